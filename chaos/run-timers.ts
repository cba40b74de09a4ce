/**
 * The timers one part of a chaos run arms (faults, publishes, viewers' joins and reconnects), all
 * cancelled at once when that part stops: nothing it scheduled happens after.
 */
export class RunTimers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private halted = false;

  /** Run `action` in `ms` (at once when negative), unless stopped by then; nothing once stopped. */
  later(ms: number, action: () => void): void {
    if (this.halted) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (!this.halted) action();
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  stop(): void {
    this.halted = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  get stopped(): boolean {
    return this.halted;
  }
}
