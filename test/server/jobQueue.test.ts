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
  expect(queue.stats).toEqual({ running: 0, waiting: 0, maxWaiting: 10 });
});

test("refuses at once when maxWaiting jobs already wait, and says when to retry", async () => {
  const queue = new JobQueue(2);
  const gate = deferred();
  const running = queue.run(() => gate.promise);
  const waiting = [queue.run(async () => 1), queue.run(async () => 2)];
  expect(queue.stats).toEqual({ running: 1, waiting: 2, maxWaiting: 2 });
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
