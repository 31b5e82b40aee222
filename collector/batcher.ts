// Group commit: requests arriving in the same tick share one transaction (one fsync), and each is
// answered only after that commit. While a flush runs (its commit and fsync: the event loop goes on meanwhile),
// what arrives waits and goes in one transaction after it, up to maxBatch, rather than one per tick behind it.
// A failed flush fails every request in it: nothing half-stored.

export class Batcher<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  /** batches handed to flush and not finished */
  private inFlight = 0;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.run();
      else if (!this.inFlight) this.schedule();
    });
  }

  /** the batch is cut on the next turn of the event loop: what arrives in this one goes with it */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  /** resolves when everything added so far has been committed or refused */
  async drain(): Promise<void> {
    if (this.pending.length) this.run();
    await this.flushing;
  }

  private run(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    this.inFlight++;
    this.flushing = this.flushing.then(async () => {
      try {
        const out = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(out[i]));
      } catch (err) {
        for (const b of batch) b.reject(err);
      } finally {
        // what waited for this flush goes in one batch now
        if (!--this.inFlight && this.pending.length) this.schedule();
      }
    });
  }
}
