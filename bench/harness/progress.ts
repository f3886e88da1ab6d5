/** Progress on stderr (stdout carries only results): a redrawn line on a TTY, sparse lines otherwise. */
export class Progress {
  private label = '';
  private lastPrint = 0;
  private lastPct = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly enabled = true) {}

  /** Starts a phase, e.g. `W1 ours: run`. */
  phase(label: string): void {
    this.endLine();
    this.label = label;
    this.lastPrint = 0;
    this.lastPct = -1;
    this.write(`${label} ...`);
  }

  update(done: number, total: number): void {
    if (!this.enabled || total <= 0) return;
    const pct = Math.floor((done / total) * 100);
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastPrint < 200 && done < total) return;
      this.lastPrint = now;
      process.stderr.write(`\r\x1b[K${this.label}: ${pct}% (${done}/${total})`);
    } else {
      // Every 25% in logs (CI), so that a slow run still shows life.
      const step = Math.floor(pct / 25) * 25;
      if (step === this.lastPct && done < total) return;
      this.lastPct = step;
      process.stderr.write(`${this.label}: ${step}% (${done}/${total})\n`);
    }
  }

  log(message: string): void {
    this.endLine();
    if (this.enabled) process.stderr.write(`${message}\n`);
  }

  private write(text: string): void {
    if (!this.enabled) return;
    if (this.tty) process.stderr.write(`\r\x1b[K${text}`);
    else process.stderr.write(`${text}\n`);
  }

  private endLine(): void {
    if (this.enabled && this.tty && this.label) process.stderr.write('\n');
    this.label = '';
  }
}
