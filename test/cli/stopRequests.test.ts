// Stop requests of worker, eval and train-critic: under npx, Ctrl-C arrives as SIGINT *and* as npm's
// shell going away; that is one request (graceful), and only a second signal stops at once.
import { PARENT_GONE, onStopRequest } from "../../src/cli/stopRequests.js";

test("Ctrl-C plus the parent going away is one graceful request; a second signal is immediate", () => {
  const calls: string[] = [];
  const remove = onStopRequest(() => calls.push("graceful"), () => calls.push("immediate"));
  try {
    process.emit("SIGINT");
    process.emit(PARENT_GONE as never);
    expect(calls).toEqual(["graceful"]);
    process.emit("SIGTERM");
    expect(calls).toEqual(["graceful", "immediate"]);
  } finally {
    remove();
  }
  // Removed: bin/inference-guard.js sees no listener and falls back to SIGTERM.
  expect(process.listenerCount(PARENT_GONE)).toBe(0);
});

test("the parent going away alone asks for a graceful stop", () => {
  const calls: string[] = [];
  const remove = onStopRequest(() => calls.push("graceful"), () => calls.push("immediate"));
  try {
    expect(process.emit(PARENT_GONE as never)).toBe(true);
    process.emit(PARENT_GONE as never);
    expect(calls).toEqual(["graceful"]);
  } finally {
    remove();
  }
});
