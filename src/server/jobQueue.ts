// A bounded FIFO in front of the guard: at most `concurrency` jobs run, at most `maxWaiting` wait.
// One Guard answers one request at a time (its sequences are the beams), so requests beyond that
// wait here; when the wait list is full a request is refused at once (the server answers 429 with
// a Retry-After) instead of piling up without bound.

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
  waiting: number;
  maxWaiting: number;
}

export class JobQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  private idleResolvers: Array<() => void> = [];
  /** Moving average of job seconds, for Retry-After. */
  private averageSeconds = 1;

  constructor(
    readonly maxWaiting: number,
    readonly concurrency = 1,
  ) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new Error(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${concurrency}`);
  }

  get stats(): QueueStats {
    return { running: this.running, waiting: this.waiters.length, maxWaiting: this.maxWaiting };
  }

  /** True when a new job would be refused. */
  get full(): boolean {
    return this.running >= this.concurrency && this.waiters.length >= this.maxWaiting;
  }

  /** Seconds until a slot is likely to free up for a job queued now (at least 1). */
  retryAfterSeconds(): number {
    const ahead = this.waiters.length + Math.max(1, this.running);
    return Math.max(1, Math.ceil((ahead * this.averageSeconds) / this.concurrency));
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
    const started = performance.now();
    try {
      return await job();
    } finally {
      this.averageSeconds = 0.8 * this.averageSeconds + 0.2 * ((performance.now() - started) / 1000);
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
