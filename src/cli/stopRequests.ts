// How the long-running commands (worker, eval, train-critic) are asked to stop: the first Ctrl-C or
// SIGTERM asks for a graceful stop, a second one stops at once. Under `npx`, Ctrl-C reaches node and
// ends npm's shell at the same moment, and bin/inference-guard.js reports the shell going away as
// PARENT_GONE (else it would send SIGTERM): that is the same request, so it never counts as a second.
export const PARENT_GONE = "inference-guard:parent-gone";

/** Calls `graceful` on the first request, `immediate` on a second signal; returns the remover. */
export function onStopRequest(graceful: () => void, immediate: () => void = () => process.exit(130)): () => void {
  let requested = false;
  const onSignal = (): void => {
    if (requested) return immediate();
    requested = true;
    graceful();
  };
  const onParentGone = (): void => {
    if (requested) return;
    requested = true;
    graceful();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on(PARENT_GONE, onParentGone);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off(PARENT_GONE, onParentGone);
  };
}
