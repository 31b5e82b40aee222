/** `label [######--------]  45%  detail` on one line of stderr, redrawn in place at most ten times a second */
export class ProgressBar {
  private drawn = 0;
  private last?: [number, number, string];

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly label = '',
    private readonly width = 24,
  ) {}

  draw(done: number, total: number, detail = `${done}/${total}`, force = false): void {
    this.last = [done, total, detail];
    const now = Date.now();
    if (!force && now - this.drawn < 100 && done < total) return;
    this.drawn = now;
    const ratio = total ? Math.min(1, done / total) : 1;
    const filled = Math.round(ratio * this.width);
    const pct = String(Math.floor(ratio * 100)).padStart(3);
    this.stream.write(`\r${this.label}[${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${pct}% ${detail}\x1b[K`);
  }

  end(): void {
    if (!this.last) return;
    this.draw(...this.last, true);
    this.stream.write('\n');
  }
}
