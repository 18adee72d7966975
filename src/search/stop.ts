// Stop sequences (OpenAI's `stop`): the answer ends before the first of them, which is not part of
// it. Text is streamed only once it cannot be the start of a stop sequence, so a client never
// receives the beginning of one the answer later ends on.

export class StopSequences {
  private readonly longest: number;

  constructor(readonly sequences: readonly string[]) {
    this.longest = Math.max(0, ...sequences.map((s) => s.length));
  }

  get empty(): boolean {
    return this.sequences.length === 0;
  }

  /**
   * Index in `text` where the first stop sequence begins, looking only at matches that end after
   * `checkedUpTo` (the text before that was already searched); -1 when there is none.
   */
  find(text: string, checkedUpTo = 0): number {
    if (this.longest === 0) return -1;
    const from = Math.max(0, checkedUpTo - this.longest + 1);
    let first = -1;
    for (const s of this.sequences) {
      const i = text.indexOf(s, from);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    return first;
  }

  /**
   * Index of the first place at or after `checkedUpTo`'s reach where a stop sequence begins or may
   * still begin (what follows could complete it), or text.length when there is none: text before
   * it stays in the answer whatever follows.
   */
  firstPossibleStart(text: string, checkedUpTo = 0): number {
    const found = this.find(text, checkedUpTo);
    const pending = this.safeLength(text);
    return found < 0 ? pending : Math.min(found, pending);
  }

  /** Length of the prefix of `text` that cannot become part of a stop sequence, whatever follows. */
  safeLength(text: string): number {
    for (let keep = Math.max(0, text.length - this.longest + 1); keep < text.length; keep++) {
      const tail = text.slice(keep);
      if (this.sequences.some((s) => s.startsWith(tail))) return keep;
    }
    return text.length;
  }
}
