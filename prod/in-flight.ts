/**
 * The requests this node has under way (sends to other nodes, store calls), so that shutdown can
 * give them a moment to land. Each promise is forgotten as soon as it settles.
 */
export class InFlight {
  private readonly promises = new Set<Promise<unknown>>();

  get size(): number {
    return this.promises.size;
  }

  track(promise: Promise<unknown>): void {
    this.promises.add(promise);
    void promise.finally(() => this.promises.delete(promise));
  }

  /**
   * Until everything under way has settled, or `graceMs` passed. Settling may start more (an
   * unsubscribe that lands here writes to the store), so up to three rounds are waited for.
   */
  async settle(graceMs: number): Promise<void> {
    const deadline = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    for (let round = 0; round < 3 && this.promises.size > 0; round++) {
      await Promise.race([Promise.allSettled([...this.promises]), deadline]);
    }
  }
}
