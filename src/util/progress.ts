// A progress bar for long jobs (training, evaluation, batch): one redrawn line with rate and ETA
// on a terminal; on a pipe or in CI a plain line every few seconds, so logs stay readable.

export interface ProgressOptions {
  /** What is being counted, e.g. "prompts", "epochs". */
  unit: string;
  label?: string;
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Minimum milliseconds between redraws (default 100 on a TTY, 5000 otherwise). */
  intervalMs?: number;
}

export class Progress {
  private done = 0;
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly stream: NodeJS.WritableStream;
  private readonly intervalMs: number;
  private extra = "";
  /** What the last drawn line said, so finish() does not print the same line twice. */
  private drawnState = "";

  constructor(
    private readonly total: number,
    private readonly options: ProgressOptions,
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean((this.stream as NodeJS.WriteStream).isTTY);
    this.intervalMs = options.intervalMs ?? (this.tty ? 100 : 5000);
  }

  /** Marks `n` more units done; `note` (e.g. "loss 0.31") is shown after the counts. */
  tick(n = 1, note?: string): void {
    this.done += n;
    if (note !== undefined) this.extra = note;
    const now = performance.now();
    if (now - this.lastDraw >= this.intervalMs || this.done >= this.total) {
      this.lastDraw = now;
      this.draw(now);
    }
  }

  /** Starts counting from `n` already done (a resumed job). */
  resumeAt(n: number): void {
    this.done = n;
  }

  finish(note?: string): void {
    if (note !== undefined) this.extra = note;
    if (this.drawnState !== `${this.done}|${this.extra}`) this.draw(performance.now());
    if (this.tty) this.stream.write("\n");
  }

  private draw(now: number): void {
    this.drawnState = `${this.done}|${this.extra}`;
    const seconds = (now - this.started) / 1000;
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
    const label = this.options.label ? `${this.options.label} ` : "";
    const line =
      `${label}${bar} ${this.done}/${this.total}${this.options.unit ? ` ${this.options.unit}` : ""} ` +
      `${(fraction * 100).toFixed(0)}% ${formatDuration(seconds)} elapsed, ETA ${Number.isFinite(eta) ? formatDuration(eta) : "?"}` +
      (this.extra ? `  ${this.extra}` : "");
    this.stream.write(this.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
