// Goal: a trace file is read by lines from any offset whatever the chunk size, a last line without
// its newline is told apart, and a file changed since it was opened is refused.
// Method: small files written by hand, read with chunks smaller than a line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../usage-error.ts';
import { TraceFile } from './trace-file.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function read(file: TraceFile, start: number, chunkBytes: number): [string, number, boolean][] {
  const lines: [string, number, boolean][] = [];
  file.lines(start, chunkBytes, (text, offset, complete) => {
    lines.push([text, offset, complete]);
    return true;
  });
  return lines;
}

describe('a trace file', () => {
  it('reads every line with its offset, at any chunk size, from any line start', () => {
    const path = join(dir, 'lines.jsonl');
    writeFileSync(path, 'first line\nsecond, longer line\n\nlast é\n');
    const file = new TraceFile(path);
    const expected: [string, number, boolean][] = [
      ['first line', 0, true],
      ['second, longer line', 11, true],
      ['', 31, true],
      ['last é', 32, true],
    ];
    for (const chunk of [1, 3, 7, 64]) expect(read(file, 0, chunk), `chunk ${chunk}`).toEqual(expected);
    expect(read(file, 11, 4)).toEqual(expected.slice(1));
  });

  it('tells a last line without its newline apart, and stops when told', () => {
    const path = join(dir, 'cut.jsonl');
    writeFileSync(path, 'a\nb\n{"cut');
    const file = new TraceFile(path);
    expect(read(file, 0, 2).at(-1)).toEqual(['{"cut', 4, false]);
    const seen: string[] = [];
    file.lines(0, 2, (text) => {
      seen.push(text);
      return seen.length < 2;
    });
    expect(seen).toEqual(['a', 'b']);
  });

  it('refuses a file whose size changed since it was opened, and names a missing one', () => {
    const path = join(dir, 'changing.jsonl');
    writeFileSync(path, 'one\n');
    const file = new TraceFile(path);
    writeFileSync(path, 'one\ntwo\n');
    expect(() => read(file, 0, 16)).toThrow(/changing\.jsonl changed since it was opened/);
    expect(() => new TraceFile(join(dir, 'absent.jsonl'))).toThrow(UsageError);
    expect(() => new TraceFile(join(dir, 'absent.jsonl'))).toThrow(/absent\.jsonl: no such file/);
    expect(() => new TraceFile(dir)).toThrow(/not a file/);
    expect(() => file.fail(7, 'bad')).toThrow(`trace ${path}, line 7: bad`);
  });
});
