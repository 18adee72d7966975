// A bounded FIFO in front of the guard: at most `concurrency` jobs run, at most `maxWaiting` wait.
// The guard runs `parallel` generations at once (engine slots), so requests beyond that wait
// here; when the wait list is full a request is refused at once (the server answers 429 with a
// Retry-After) instead of piling up without bound.

export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

export class QueueClosedError extends Error {
  override readonly name = "QueueClosedError";
}

/** A waiting job whose signal aborted before it started: it was dropped from the queue. */
export class DequeuedError extends Error {
  override readonly name = "DequeuedError";
}

interface Waiter {
  start: () => void;
  fail: (error: Error) => void;
}

export interface QueueStats {
  running: number;
  /** Jobs that may run at once (the guard's parallel generations). */
  parallel: number;
  waiting: number;
  maxWaiting: number;
}

/** Job durations kept for the Retry-After estimate: recent enough to follow a change of load. */
const RECENT_JOBS = 16;

export class JobQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  private idleResolvers: Array<() => void> = [];
  /** Milliseconds of the last RECENT_JOBS jobs, for Retry-After. */
  private readonly recentMs: number[] = [];
  /** When each running job started (clock ms). */
  private readonly startedAt = new Set<{ at: number }>();

  constructor(
    readonly maxWaiting: number,
    readonly concurrency = 1,
    /** Milliseconds clock (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new Error(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${concurrency}`);
  }

  get stats(): QueueStats {
    return { running: this.running, parallel: this.concurrency, waiting: this.waiters.length, maxWaiting: this.maxWaiting };
  }

  /** True when a new job would be refused. */
  get full(): boolean {
    return this.running >= this.concurrency && this.waiters.length >= this.maxWaiting;
  }

  /**
   * Milliseconds until the queue has drained what it holds now, from the measured durations of
   * recent jobs: what the running jobs have left (a typical job's length minus the time each has
   * run) plus the waiting jobs, over the slots. Before any job has finished there is nothing to go
   * on, and the estimate is the least a client should wait (1 s).
   */
  retryAfterMs(): number {
    if (this.recentMs.length === 0) return 1000;
    const typical = this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length;
    const now = this.now();
    // A job running longer than typical is taken to need about a typical job's time more.
    let remaining = 0;
    for (const job of this.startedAt) {
      const ran = now - job.at;
      remaining += ran < typical ? typical - ran : typical;
    }
    const ms = (remaining + this.waiters.length * typical) / this.concurrency;
    return Math.max(1, Math.round(ms));
  }

  /** retryAfterMs() in whole seconds, at least 1 (the Retry-After header's unit). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs() / 1000));
  }

  /**
   * Runs `job` once a slot is free. Rejects at once with QueueFullError (no room) or
   * QueueClosedError (shutting down); with DequeuedError when `signal` aborts while it waits.
   */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new QueueClosedError("the server is shutting down");
    if (signal?.aborted) throw new DequeuedError("cancelled before it started");
    if (this.running < this.concurrency) this.running++;
    else {
      if (this.waiters.length >= this.maxWaiting) throw new QueueFullError(`the queue is full (${this.maxWaiting} waiting)`);
      await this.wait(signal); // the finishing job handed its slot over: `running` already counts this one
    }
    const started = { at: this.now() };
    this.startedAt.add(started);
    try {
      return await job();
    } finally {
      this.startedAt.delete(started);
      this.recentMs.push(this.now() - started.at);
      if (this.recentMs.length > RECENT_JOBS) this.recentMs.shift();
      this.release();
    }
  }

  private wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new DequeuedError("cancelled while queued"));
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        fail: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Hands the slot to the first waiter, or frees it. */
  private release(): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.start();
      return;
    }
    this.running--;
    if (this.running === 0) for (const resolve of this.idleResolvers.splice(0)) resolve();
  }

  /** Refuses new jobs and fails every waiting one with QueueClosedError; running jobs go on. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.fail(new QueueClosedError("the server is shutting down"));
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleResolvers.push(resolve));
  }
}
