// Generation runs synchronous native decodes back to back; yielding to the event loop now and
// then lets timers, aborts and other requests (a server, a UI) run in between.
import { setImmediate as nextTurn } from "node:timers/promises";

export function yieldToEventLoop(): Promise<void> {
  return nextTurn();
}
