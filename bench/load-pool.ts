/**
 * A set of load-client processes holding connections to one server, spread so that no process
 * holds more than `connectionsPerProcessMax` sockets (the machine allows 20,000 open files per
 * process).
 */
import { createHistogram, merge } from './histogram.ts';
import type { Histogram } from './histogram.ts';
import { BenchError, forkBench } from './processes.ts';
import type { Child } from './processes.ts';
import type { ClientReport, OpenReply, Transport } from './protocol.ts';

/** Connection attempts each client process keeps in flight while opening. */
const openConcurrency = 200;
const openTimeoutMs = 20_000;

export interface PoolReport {
  open: number;
  lost: number;
  /** Sum over processes of events / elapsed: deliveries per second. */
  eventsPerSecond: number;
  events: number;
  /** Events received since the processes started. */
  total: number;
  unstamped: number;
  histogram: Histogram;
}

export class LoadPool {
  private readonly processes: { child: Child; open: number }[] = [];

  constructor(
    private readonly transport: Transport,
    private readonly url: string,
    private readonly topic: string,
    private readonly connectionsPerProcessMax: number,
  ) {}

  get processCount(): number {
    return this.processes.length;
  }

  get pids(): number[] {
    return this.processes.map((p) => p.child.pid);
  }

  /** Open connections until `target` are open (replacing any the server closed). */
  async topUp(
    target: number,
  ): Promise<{ open: number; failed: number; firstError: string | null; ms: number }> {
    const started = Date.now();
    const reports = await this.reportAll();
    reports.forEach((report, i) => (this.processes[i]!.open = report.open));
    let needed = target - reports.reduce((sum, r) => sum + r.open, 0);
    const requests: Promise<OpenReply>[] = [];
    const ask = (entry: { child: Child; open: number }, count: number): void => {
      requests.push(
        entry.child.request<OpenReply>({
          type: 'open',
          transport: this.transport,
          url: this.url,
          topic: this.topic,
          count,
          concurrency: openConcurrency,
          timeoutMs: openTimeoutMs,
        }),
      );
    };
    for (const entry of this.processes) {
      const count = Math.min(needed, this.connectionsPerProcessMax - entry.open);
      if (count <= 0) continue;
      ask(entry, count);
      needed -= count;
    }
    while (needed > 0) {
      const child = forkBench(
        'load-client.ts',
        `load client ${this.processes.length + 1} (${this.transport})`,
      );
      const entry = { child, open: 0 };
      this.processes.push(entry);
      const count = Math.min(needed, this.connectionsPerProcessMax);
      ask(entry, count);
      needed -= count;
    }
    const replies = await Promise.all(requests);
    const failed = replies.reduce((sum, r) => sum + r.failed, 0);
    const firstError = replies.find((r) => r.firstError !== null)?.firstError ?? null;
    const open = (await this.reportAll()).reduce((sum, r) => sum + r.open, 0);
    if (open === 0 && target > 0)
      throw new BenchError(
        `no ${this.transport} connection to ${this.url} opened: ${firstError ?? 'unknown'}`,
      );
    return { open, failed, firstError, ms: Date.now() - started };
  }

  async reset(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.child.request({ type: 'reset' })));
  }

  async report(): Promise<PoolReport> {
    const reports = await this.reportAll();
    const histogram = createHistogram();
    let eventsPerSecond = 0;
    for (const report of reports) {
      merge(histogram, report.histogram);
      eventsPerSecond += report.elapsedMs > 0 ? (report.events / report.elapsedMs) * 1000 : 0;
    }
    return {
      open: reports.reduce((sum, r) => sum + r.open, 0),
      lost: reports.reduce((sum, r) => sum + r.lost, 0),
      events: reports.reduce((sum, r) => sum + r.events, 0),
      total: reports.reduce((sum, r) => sum + r.total, 0),
      unstamped: reports.reduce((sum, r) => sum + r.unstamped, 0),
      eventsPerSecond,
      histogram,
    };
  }

  private reportAll(): Promise<ClientReport[]> {
    return Promise.all(this.processes.map((p) => p.child.request<ClientReport>({ type: 'report' })));
  }

  /** Close every connection and stop every client process. */
  async close(): Promise<void> {
    await Promise.all(
      this.processes.map(async ({ child }) => {
        try {
          await child.request({ type: 'close' }, 10_000);
        } catch {
          // It is stopped below either way.
        }
        await child.stop(3_000);
      }),
    );
    this.processes.length = 0;
  }
}
