/**
 * A trace file as replay reads it: by lines, from any byte offset, a chunk at a time, never whole.
 *
 * The file is opened for each read and closed after it, so an open replay holds no descriptor. Its
 * size when first opened is kept: a later read of a file whose size changed is refused (the index
 * built from it no longer describes it) rather than misread.
 *
 * Every problem with the file becomes a UsageError naming the file (and the line, with `fail`).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../usage-error.ts';

/** Sees one line (without its newline) and the byte offset where it starts; `complete` is false for a last line without a newline. Returns false to stop. */
export type LineVisitor = (text: string, offset: number, complete: boolean) => boolean;

export class TraceFile {
  readonly path: string;
  readonly sizeBytes: number;

  /** Open the file to learn its size; throws a UsageError when it is missing or not a file. */
  constructor(path: string) {
    this.path = path;
    const fd = this.open();
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new UsageError(`trace ${path}: not a file`);
      this.sizeBytes = stat.size;
    } finally {
      closeSync(fd);
    }
  }

  /** Throw the UsageError for a problem on 1-based line `line`. */
  fail(line: number, problem: string): never {
    throw new UsageError(`trace ${this.path}, line ${line}: ${problem}`);
  }

  /** Call `visit` with each line from byte `start`, reading `chunkBytes` at a time, until it returns false. */
  lines(start: number, chunkBytes: number, visit: LineVisitor): void {
    const fd = this.open();
    try {
      if (fstatSync(fd).size !== this.sizeBytes) {
        throw new UsageError(`trace ${this.path} changed since it was opened; open it again`);
      }
      readLines(fd, this.sizeBytes, start, chunkBytes, visit);
    } finally {
      closeSync(fd);
    }
  }

  private open(): number {
    try {
      return openSync(this.path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        code === 'ENOENT'
          ? `trace ${this.path}: no such file`
          : `trace ${this.path}: cannot open (${code ?? String(error)})`,
      );
    }
  }
}

function readLines(fd: number, size: number, start: number, chunkBytes: number, visit: LineVisitor): void {
  const buffer = Buffer.allocUnsafe(chunkBytes);
  // A line cut by the end of a chunk is carried into the next one.
  let carry: Buffer | null = null;
  let carryOffset = start;
  let position = start;
  while (position < size) {
    const read = readSync(fd, buffer, 0, Math.min(chunkBytes, size - position), position);
    if (read === 0) break;
    const data: Buffer = carry ? Buffer.concat([carry, buffer.subarray(0, read)]) : buffer.subarray(0, read);
    const base = carry ? carryOffset : position;
    position += read;
    let from = 0;
    for (;;) {
      const newline = data.indexOf(10, from);
      if (newline < 0) break;
      if (!visit(data.toString('utf8', from, newline), base + from, true)) return;
      from = newline + 1;
    }
    carry = from < data.length ? Buffer.from(data.subarray(from)) : null;
    carryOffset = base + from;
  }
  if (carry) visit(carry.toString('utf8'), carryOffset, false);
}
