// How the long-running commands (serve, batch, worker, queue collect, eval, critic-evidence, the trainers) are asked
// to stop: the first Ctrl-C or SIGTERM asks for a graceful stop, a second one stops at once. Under `npx`, Ctrl-C reaches node and
// ends npm's shell at the same moment, and bin/inference-guard.js reports the shell going away as
// PARENT_GONE (else it would send SIGTERM): that is the same request, so it never counts as a second.
export const PARENT_GONE = "inference-guard:parent-gone";

/**
 * Calls `graceful` on the first request, `immediate` on every later signal; returns the remover.
 * Each gets the signal's name (the parent going away stands for the SIGTERM npm would have sent).
 */
export function onStopRequest(
  graceful: (signal: NodeJS.Signals) => void,
  immediate: (signal: NodeJS.Signals) => void = () => process.exit(130),
): () => void {
  let requested = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (requested) return immediate(signal);
    requested = true;
    graceful(signal);
  };
  const onParentGone = (): void => {
    if (requested) return;
    requested = true;
    graceful("SIGTERM");
  };
  const onSigint = (): void => onSignal("SIGINT");
  const onSigterm = (): void => onSignal("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  process.on(PARENT_GONE, onParentGone);
  return () => {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
    process.off(PARENT_GONE, onParentGone);
  };
}
