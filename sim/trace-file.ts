/**
 * A trace's bytes: records as JSON Lines, hashed as they go. The sha256 of the bytes is the run's
 * `traceHash`, whether or not a file is written (property runs hash without writing).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TraceRecord } from './trace.ts';

const flushBytes = 1 << 20;

export class TraceFile {
  private readonly hash: Hash = createHash('sha256');
  private readonly fd: number | null;
  private chunk = '';
  lines = 0;
  bytes = 0;

  constructor(readonly path: string | null) {
    if (path === null) {
      this.fd = null;
    } else {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, 'w');
    }
  }

  write(record: TraceRecord): void {
    this.chunk += JSON.stringify(record) + '\n';
    this.lines++;
    if (this.chunk.length >= flushBytes) this.flush();
  }

  /** Flush, close the file, and return the hex sha256 of everything written. */
  close(): string {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    return this.hash.digest('hex');
  }

  private flush(): void {
    if (this.chunk.length === 0) return;
    const buffer = Buffer.from(this.chunk, 'utf8');
    this.chunk = '';
    this.hash.update(buffer);
    this.bytes += buffer.length;
    if (this.fd !== null) {
      let offset = 0;
      while (offset < buffer.length) offset += writeSync(this.fd, buffer, offset);
    }
  }
}
