/**
 * What the screen reads from the trace index, shaped as the panes show it and remembering the last
 * answer: rendering and the keys that read the selection or the followed path ask for the same
 * thing several times in a row, and each answer re-reads part of the trace.
 */
import type { Filter } from './filter.ts';
import { formatTime, wrapText } from './format.ts';
import type { Followed, TraceIndex, Window } from './trace-index.ts';

/** One row of the follow pane; `bad` draws it red. */
export interface Row {
  text: string;
  bad: boolean;
}

/** The followed event (empty for a violation without one) and the violation n/p jumped to, if any. */
export type FollowTarget = { e: string; violation: number | null } | null;

export type WindowReader = (t: number, filter: Filter | null) => Window;
export type FollowReader = (followed: FollowTarget) => Row[];

/**
 * The records around a time as the records pane lists them: `listRows` in all, at most
 * `afterRows` of them after the time unless little happened before it.
 */
export function windowReader(index: TraceIndex, listRows: number, afterRows: number): WindowReader {
  let last: { t: number; filter: Filter | null; window: Window } | null = null;
  return (t, filter) => {
    if (last?.t === t && last.filter === filter) return last.window;
    const found = index.window(t, listRows - afterRows, listRows, filter);
    // Fill the pane: when little happened before `t`, show more of what comes next.
    const window = {
      ...found,
      after: found.after.slice(0, Math.max(afterRows, listRows - found.before.length)),
    };
    last = { t, filter, window };
    return window;
  };
}

/**
 * The followed path (and the violation's chain) as the follow pane's rows, `paneWidth` wide.
 * Wrapped, not cut: a drop's reason and fault come at the end of its line.
 */
export function followReader(index: TraceIndex, paneWidth: number): FollowReader {
  let last: { followed: FollowTarget; rows: Row[] } | null = null;
  return (followed) => {
    if (last?.followed === followed) return last.rows;
    const lines = followed ? followLines(index.follow(followed.e), followed.violation, index) : [];
    const rows = lines.flatMap((line) =>
      wrapText(line.text, paneWidth).map((text) => ({ text, bad: line.bad })),
    );
    last = { followed, rows };
    return rows;
  };
}

function followLines(followed: Followed, violationIndex: number | null, index: TraceIndex): Row[] {
  const lines: Row[] = [];
  const violation = violationIndex === null ? undefined : index.violations[violationIndex];
  if (violation) {
    const v = violation.violation;
    lines.push({
      text: `Violation ${violationIndex! + 1}/${index.violations.length} at ${formatTime(v.t)}: ${v.invariant}: ${v.message}`,
      bad: true,
    });
    lines.push({ text: 'Chain:', bad: false });
    for (const step of v.chain) lines.push({ text: `  ${step}`, bad: false });
  }
  if (followed.e === '') return lines;
  if (!followed.found) {
    lines.push({ text: `No publish of ${followed.e} in this trace.`, bad: false });
    return lines;
  }
  lines.push({
    text: `Path of ${followed.e}${followed.topic ? ` (${followed.topic})` : ''} in the trace:`,
    bad: false,
  });
  for (const step of followed.steps)
    lines.push({ text: `  ${formatTime(step.t)} ${step.text}`, bad: step.bad });
  return lines;
}
