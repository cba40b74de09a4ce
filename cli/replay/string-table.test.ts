// Goal: each name is kept once and read back exactly; an id the table never gave is our bug.
// Method: names interned twice and read back.
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../core/index.ts';
import { StringTable } from './string-table.ts';

describe('the string table', () => {
  it('gives dense ids in order of first sight, the same id again for the same text', () => {
    const strings = new StringTable();
    const names = ['dc-a/frontend-1', 'likes-1', 'dc-a/frontend-1#3', 'likes-1', 'dc-a/frontend-1'];
    expect(names.map((name) => strings.intern(name))).toEqual([0, 1, 2, 1, 0]);
    expect(strings.size).toBe(3);
    expect([0, 1, 2].map((id) => strings.text(id))).toEqual([
      'dc-a/frontend-1',
      'likes-1',
      'dc-a/frontend-1#3',
    ]);
  });

  it('asserts on an id it never gave', () => {
    expect(() => new StringTable().text(0)).toThrow(AssertionError);
  });
});
