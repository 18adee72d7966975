// The bounded queue in front of the guard: order, bounds, cancellation while waiting, closing.
import { DequeuedError, JobQueue, QueueClosedError, QueueFullError } from "../../src/server/jobQueue.js";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("runs one job at a time, in arrival order", async () => {
  const queue = new JobQueue(10);
  const order: string[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const job = (name: string) => async () => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    order.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, 5));
    order.push(`end ${name}`);
    concurrent--;
    return name;
  };
  const results = await Promise.all(["a", "b", "c", "d"].map((n) => queue.run(job(n))));
  expect(results).toEqual(["a", "b", "c", "d"]);
  expect(maxConcurrent).toBe(1);
  expect(order).toEqual(["start a", "end a", "start b", "end b", "start c", "end c", "start d", "end d"]);
  expect(queue.stats).toEqual({ running: 0, parallel: 1, waiting: 0, maxWaiting: 10 });
});

test("refuses at once when maxWaiting jobs already wait, and says when to retry", async () => {
  const queue = new JobQueue(2);
  const gate = deferred();
  const running = queue.run(() => gate.promise);
  const waiting = [queue.run(async () => 1), queue.run(async () => 2)];
  expect(queue.stats).toEqual({ running: 1, parallel: 1, waiting: 2, maxWaiting: 2 });
  expect(queue.full).toBe(true);
  await expect(queue.run(async () => 3)).rejects.toBeInstanceOf(QueueFullError);
  expect(queue.retryAfterSeconds()).toBeGreaterThanOrEqual(1);
  gate.resolve();
  await running;
  expect(await Promise.all(waiting)).toEqual([1, 2]);
  expect(queue.full).toBe(false);
});

test("a job whose signal aborts while it waits is dropped from the queue and never runs", async () => {
  const queue = new JobQueue(5);
  const gate = deferred();
  const running = queue.run(() => gate.promise);
  const controller = new AbortController();
  let ran = false;
  const dropped = queue.run(async () => void (ran = true), controller.signal);
  const after = queue.run(async () => "after");
  expect(queue.stats.waiting).toBe(2);
  controller.abort();
  await expect(dropped).rejects.toBeInstanceOf(DequeuedError);
  expect(queue.stats.waiting).toBe(1);
  gate.resolve();
  await running;
  expect(await after).toBe("after");
  expect(ran).toBe(false);
  // Already aborted: refused without queueing.
  await expect(queue.run(async () => 1, controller.signal)).rejects.toBeInstanceOf(DequeuedError);
});

test("a failing job frees its slot for the next one", async () => {
  const queue = new JobQueue(5);
  const failing = queue.run(async () => {
    throw new Error("boom");
  });
  const next = queue.run(async () => "next");
  await expect(failing).rejects.toThrow("boom");
  expect(await next).toBe("next");
  expect(queue.stats.running).toBe(0);
});

test("close() fails waiting jobs, refuses new ones, lets the running one finish; idle() waits for it", async () => {
  const queue = new JobQueue(5);
  const gate = deferred();
  const running = queue.run(async () => {
    await gate.promise;
    return "finished";
  });
  const waiting = queue.run(async () => "never");
  queue.close();
  await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
  await expect(queue.run(async () => 1)).rejects.toBeInstanceOf(QueueClosedError);
  let idle = false;
  const idlePromise = queue.idle().then(() => (idle = true));
  await new Promise((r) => setTimeout(r, 5));
  expect(idle).toBe(false);
  gate.resolve();
  expect(await running).toBe("finished");
  await idlePromise;
  expect(idle).toBe(true);
});

describe("Retry-After reflects the real queue, from measured job durations", () => {
  /** A queue on a hand-driven clock, and jobs that end when told. */
  function clocked(maxWaiting: number) {
    let now = 0;
    const queue = new JobQueue(maxWaiting, 1, () => now);
    return { queue, advance: (ms: number) => void (now += ms) };
  }

  test("before any job has finished: the least wait, 1 s", () => {
    const { queue } = clocked(4);
    const gate = deferred();
    void queue.run(() => gate.promise);
    for (let i = 0; i < 4; i++) void queue.run(async () => i);
    expect(queue.retryAfterMs()).toBe(1000);
    expect(queue.retryAfterSeconds()).toBe(1);
    gate.resolve();
  });

  test("jobs of 150 ms: 8 waiting + 1 running drain in ~1.35 s, not 9 s", async () => {
    const { queue, advance } = clocked(8);
    // Measure: four jobs of 150 ms each.
    for (let i = 0; i < 4; i++) {
      await queue.run(async () => advance(150));
    }
    const gates = Array.from({ length: 9 }, () => deferred());
    const runs = gates.map((g) => queue.run(() => g.promise));
    expect(queue.stats).toMatchObject({ running: 1, waiting: 8 });
    advance(50); // the running job is 50 ms in: 100 ms left
    expect(queue.retryAfterMs()).toBe(100 + 8 * 150);
    expect(queue.retryAfterSeconds()).toBe(2);
    advance(400); // running longer than typical: assume a typical job's time more
    expect(queue.retryAfterMs()).toBe(150 + 8 * 150);
    for (const g of gates) g.resolve();
    await Promise.all(runs);
  });

  test("the estimate follows a change of load (recent jobs only)", async () => {
    const { queue, advance } = clocked(2);
    for (let i = 0; i < 20; i++) await queue.run(async () => advance(2000));
    for (let i = 0; i < 16; i++) await queue.run(async () => advance(100));
    const gate = deferred();
    const running = queue.run(() => gate.promise);
    expect(queue.retryAfterMs()).toBe(100);
    gate.resolve();
    await running;
  });
});
