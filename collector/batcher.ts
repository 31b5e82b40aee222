// Group commit: requests arriving in the same tick share one transaction (one fsync), and so do all those that
// arrive while a flush is in flight — they wait for it anyway, and the next flush takes them together rather than
// one small flush per tick queued behind it (on PostgreSQL each flush costs its round trips, so a queue of tiny
// flushes was the latency; on SQLite a flush includes its fsync, which runs off the event loop meanwhile). Each
// request is answered only after its commit; a failed flush fails every request in it: nothing half-stored.
export class Batcher<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private busy = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.busy) return; // the flush in flight takes what gathered meanwhile when it ends
      if (this.pending.length >= this.maxBatch) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  /** resolves when everything added so far has been committed or refused */
  async drain(): Promise<void> {
    while (this.busy || this.pending.length) {
      if (!this.busy) this.run();
      await this.flushing;
    }
  }

  private run(): void {
    this.scheduled = false;
    if (this.busy || !this.pending.length) return;
    const batch = this.pending.splice(0, this.maxBatch);
    this.busy = true;
    this.flushing = this.commit(batch).finally(() => {
      this.busy = false;
      this.run();
    });
  }

  private async commit(batch: typeof this.pending): Promise<void> {
    try {
      const out = await this.flush(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i]));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}
