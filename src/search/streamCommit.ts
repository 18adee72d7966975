// Streaming: text goes out as soon as it is certain to begin the final answer (the common prefix of
// every hypothesis still in contention), never a branch the search may drop, never text that may
// yet begin a stop sequence, never half a UTF-16 surrogate pair. With onUnsafe=refuse nothing is
// certain until the end, so it all comes at once.
import type { StopSequences } from "./stop.js";

export class StreamCommit {
  private committed = "";

  constructor(
    private readonly onText: ((delta: string) => void) | undefined,
    private readonly refusing: boolean,
    private readonly stops: StopSequences,
  ) {}

  /** Streams the common prefix of all contenders' texts (minus what was already sent). */
  commit(contenders: ReadonlyArray<{ text: string }>): void {
    if (!this.onText || this.refusing || contenders.length === 0) return;
    let prefix = contenders[0].text;
    for (const h of contenders) {
      let i = 0;
      const n = Math.min(prefix.length, h.text.length);
      while (i < n && prefix.charCodeAt(i) === h.text.charCodeAt(i)) i++;
      prefix = prefix.slice(0, i);
    }
    // Text that may still turn out to begin a stop sequence waits.
    prefix = prefix.slice(0, this.stops.safeLength(prefix));
    // Never split a UTF-16 surrogate pair across two deltas.
    if (prefix.length > 0 && /[\uD800-\uDBFF]/.test(prefix[prefix.length - 1])) prefix = prefix.slice(0, -1);
    if (prefix.length > this.committed.length) this.emit(prefix.slice(this.committed.length));
  }

  /** The final text: whatever of it was not sent yet (nothing when it does not extend what was sent). */
  finish(text: string): void {
    if (text.startsWith(this.committed)) this.emit(text.slice(this.committed.length));
  }

  private emit(delta: string): void {
    if (delta === "" || !this.onText) return;
    this.committed += delta;
    this.onText(delta);
  }
}
