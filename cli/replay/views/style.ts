/** Colours the views share. */

/** `color: red` when something is wrong, nothing otherwise (ink's props take no explicit undefined). */
export const red = (bad: boolean): { color?: string } => (bad ? { color: 'red' } : {});
