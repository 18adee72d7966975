// A lexicon cost model: every whole-word occurrence of a listed term costs that term's weight.
//
// File format (validated with zod):
//   { "description"?: "...", "terms": { "hit": 1, "hurt": 1, "shut up": 2, ... } }
//
// Matching is case-insensitive and on whole words, with Unicode-aware boundaries: a word is a run
// of letters, digits and combining marks (\p{L}\p{N}\p{M}), plus apostrophes *inside* it ("don't",
// "boy's"). So "hit" matches "Hit!", "HIT", "'hit'" and "re-hit" ("-" separates words) but not
// "white", "hitch", "hit's", "hité" or "hit2". A multi-word term ("shut up") matches
// its words separated by any run of whitespace. All terms are compiled into one regex, longest
// alternatives first (so "shut up" is one match, not "shut" + "up" when both are listed), and a
// text is scored in a single pass.
import { readUserFile } from "../util/files.js";
import { resolve } from "node:path";
import { z } from "zod";
import { UserError, describeZodError } from "../errors.js";
import type { CostModel, StepItem } from "./costModel.js";

/** Word characters: letters, digits, combining marks (regex character-class body, `u` flag). */
const WORD = "\\p{L}\\p{N}\\p{M}";
/** Apostrophes that join word pieces: ASCII ', right single quote ’, modifier letter apostrophe ʼ. */
const APOS = "'\\u2019\\u02BC";

/** Before a match: not inside a word (no word char, and no word char + apostrophe, just before). */
const LEFT_BOUNDARY = `(?<![${WORD}])(?<![${WORD}][${APOS}])`;
/** After a match: not followed by a word char, nor by an apostrophe that continues the word. */
const RIGHT_BOUNDARY = `(?![${WORD}])(?![${APOS}][${WORD}])`;

const TERM_START_END = /^[\p{L}\p{N}].*[\p{L}\p{N}]$|^[\p{L}\p{N}]$/su;

export const RulesFileSchema = z.object({
  description: z.string().optional(),
  terms: z
    .record(z.string(), z.number().positive("cost must be > 0").finite("cost must be finite"))
    .superRefine((terms, ctx) => {
      const keys = Object.keys(terms);
      if (keys.length === 0) {
        ctx.addIssue({ code: "custom", message: "must list at least one term" });
        return;
      }
      const seen = new Map<string, string>();
      for (const key of keys) {
        const problem = termProblem(key);
        if (problem !== undefined) {
          ctx.addIssue({ code: "custom", path: [key], message: problem });
          continue;
        }
        const norm = normalizeKey(key);
        const earlier = seen.get(norm);
        if (earlier !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `duplicate of term ${JSON.stringify(earlier)} (terms match ignoring case and spacing)`,
          });
        } else {
          seen.set(norm, key);
        }
      }
    }),
});

export type RulesFile = z.infer<typeof RulesFileSchema>;

/** One occurrence of a lexicon term in a text (for traces). */
export interface TermMatch {
  /** The lexicon term as written in the rules (spacing normalised). */
  readonly term: string;
  /** The text that matched, as it appears in the input. */
  readonly text: string;
  /** UTF-16 offset of the match in the input. */
  readonly index: number;
  /** What this occurrence costs. */
  readonly cost: number;
}

interface Term {
  readonly term: string;
  readonly cost: number;
  /** Anchored single-term regex, used only when a match's lowercase form is not a known key. */
  readonly exact: RegExp;
}

export class RulesCostModel implements CostModel {
  readonly name: string;
  readonly description: string | undefined;
  /** term (spacing normalised, as written) -> cost. */
  readonly terms: ReadonlyMap<string, number>;

  /** All terms as one global regex. Stateful (lastIndex): every use sets lastIndex first. */
  private readonly re: RegExp;
  /** Lowercased, spacing-normalised term -> term info. */
  private readonly byKey: Map<string, Term>;
  private readonly termList: Term[];
  /** Cost of every term, when they all cost the same (the common case); NaN otherwise. */
  private readonly uniformCost: number;
  /** barrier[c] for ASCII code c: the character can never be part of (or border) a match. */
  private readonly asciiBarrier: Uint8Array;
  /** Same test for any BMP character (checked only for non-ASCII text). */
  private readonly nonBarrierRe: RegExp;
  /** asciiTermChar[c]: the ASCII character can occur inside a term's word (letters, digits, ', -...). */
  private readonly asciiTermChar: Uint8Array;
  /** Lowercased words that a phrase continues after (all but the last word of each phrase). */
  private readonly phraseHeads: string[];
  /** True when the phrase-head check cannot be trusted: whitespace is then never a barrier. */
  private readonly anyWhitespaceJoins: boolean;

  private constructor(terms: Record<string, number>, name: string, description?: string) {
    this.name = name;
    this.description = description;
    const list: Term[] = [];
    const byKey = new Map<string, Term>();
    const termMap = new Map<string, number>();
    let multiWord = false;
    const heads = new Set<string>();
    const extraChars = new Set<string>();
    for (const [raw, cost] of Object.entries(terms)) {
      const term = raw.trim().replace(/\s+/gu, " ");
      const words = term.split(" ");
      if (words.length > 1) multiWord = true;
      for (const w of words.slice(0, -1)) heads.add(w.toLowerCase());
      for (const ch of term) if (ch !== " " && !/[\p{L}\p{N}\p{M}]/u.test(ch)) extraChars.add(ch);
      const source = words.map(escapeRegex).join("\\s+");
      const info: Term = { term, cost, exact: new RegExp(`^(?:${source})$`, "iu") };
      list.push(info);
      byKey.set(normalizeKey(term), info);
      termMap.set(term, cost);
    }
    // One regex for all terms, factored as a trie ("hit(?:s|ting)?|hurt..."), which V8 runs ~3x
    // faster than a flat alternation. At every trie node the longer continuations are tried before
    // stopping, so the longest term that matches (with its right boundary) wins, exactly as a flat
    // alternation sorted longest-first would: "shut up" is one match, not "shut" + "up".
    this.re = new RegExp(`${LEFT_BOUNDARY}(?:${trieSource(list.map((t) => normalizeKey(t.term)))})${RIGHT_BOUNDARY}`, "giu");
    this.byKey = byKey;
    this.termList = list;
    this.terms = termMap;
    const first = list[0]!.cost;
    this.uniformCost = list.every((t) => t.cost === first) ? first : NaN;

    // A "barrier" character cannot occur inside any match: not a word character, not an apostrophe,
    // not whitespace when some term is a phrase, and not a non-word character used in a term ("-").
    // With phrases, whitespace still counts as a barrier where the word before it cannot start or
    // continue a phrase (see phraseMayContinue). Step costs rescan only the part of the prefix
    // after its last barrier (see stepCost).
    const extra = [...extraChars].map(escapeClassChar).join("");
    this.nonBarrierRe = new RegExp(`[${WORD}${APOS}${multiWord ? "\\s" : ""}${extra}]`, "iu");
    this.asciiBarrier = new Uint8Array(128);
    for (let c = 0; c < 128; c++) this.asciiBarrier[c] = this.nonBarrierRe.test(String.fromCharCode(c)) ? 0 : 1;
    this.asciiTermChar = new Uint8Array(128);
    const termCharRe = new RegExp(`[${WORD}${APOS}${extra}]`, "iu");
    for (let c = 0; c < 128; c++) this.asciiTermChar[c] = termCharRe.test(String.fromCharCode(c)) ? 1 : 0;
    this.phraseHeads = multiWord ? [...heads] : [];
    // Heads outside ASCII could match under Unicode case folding in ways toLowerCase misses.
    this.anyWhitespaceJoins = [...heads].some((h) => /[^\x00-\x7f]/.test(h));
  }

  /** A model from an in-memory lexicon (term -> cost); throws UserError when it is invalid. */
  static fromTerms(terms: Record<string, number>, options: { name?: string; description?: string } = {}): RulesCostModel {
    const parsed = RulesFileSchema.safeParse({ terms, description: options.description });
    if (!parsed.success) throw new UserError(`invalid cost rules: ${describeZodError(parsed.error)}`);
    return new RulesCostModel(parsed.data.terms, options.name ?? "rules:<inline>", parsed.data.description);
  }

  /** A model from a rules JSON file; every problem with the file is a one-line UserError naming it. */
  static fromFile(path: string): RulesCostModel {
    const file = resolve(path);
    const text = readUserFile(file, "cost rules file", "utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new UserError(`cost rules file ${file} is not valid JSON: ${oneLine(errorMessage(error))}`, { cause: error });
    }
    const parsed = RulesFileSchema.safeParse(json);
    if (!parsed.success) {
      throw new UserError(`invalid cost rules file ${file}: ${oneLine(describeZodError(parsed.error))}`, {
        cause: parsed.error,
      });
    }
    return new RulesCostModel(parsed.data.terms, `rules:${file}`, parsed.data.description);
  }

  /** Total cost of `text`: the sum of the costs of all term occurrences. */
  cost(text: string): number {
    return this.scan(text, 0);
  }

  /** Every term occurrence in `text`, in order. */
  matches(text: string): TermMatch[] {
    const out: TermMatch[] = [];
    const re = this.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const t = this.termOf(m[0]);
      out.push({ term: t.term, text: m[0], index: m.index, cost: t.cost });
    }
    return out;
  }

  /** max(0, cost(prefix + added) - cost(prefix)), rescanning only the prefix's tail. */
  stepCost(prefix: string, added: string): number {
    if (added.length === 0) return 0;
    // Let c be just after the prefix's last barrier character. No match can contain the barrier,
    // and a match ending right before it cannot look past it (its lookaheads stop at a barrier), so
    // every match starting before c is the same in `prefix` and in `prefix + added`, and the
    // regex scan of both reaches c in the same state. The difference of the totals is therefore
    // the difference of the scans from c. (No barrier at all: c = 0, a full rescan; still exact.)
    const c = this.lastCut(prefix);
    // Keep one character before c: the left-boundary lookbehind reads it (only one: the barrier
    // is not an apostrophe, so the two-character lookbehind stops there).
    const s = c > 0 ? c - 1 : 0;
    const tail = prefix.slice(s);
    const from = c - s;
    const delta = this.scan(tail + added, from) - this.scan(tail, from);
    return delta > 0 ? delta : 0;
  }

  /**
   * stepCost of `added` up to its last barrier character: every match before that barrier is in
   * any longer text too (see stepCost), and costs are non-negative, so no continuation of `added`
   * is charged less.
   */
  settledStepCost(prefix: string, added: string): number {
    const cut = this.lastCut(prefix + added) - prefix.length;
    return cut > 0 ? this.stepCost(prefix, added.slice(0, cut)) : 0;
  }

  stepCosts(items: ReadonlyArray<StepItem>): number[] {
    const out = new Array<number>(items.length);
    for (let i = 0; i < items.length; i++) out[i] = this.stepCost(items[i]!.prefix, items[i]!.added);
    return out;
  }

  /** Position just after the last barrier character of `text`, or 0 when it has none. */
  private lastCut(text: string): number {
    const barrier = this.asciiBarrier;
    const phrases = this.phraseHeads.length > 0;
    const spaceMayBeBarrier = phrases && !this.anyWhitespaceJoins;
    for (let i = text.length - 1; i >= 0; i--) {
      const code = text.charCodeAt(i);
      if (code < 128) {
        if (barrier[code] === 1) return i + 1;
        // With phrases, whitespace can sit inside a match, but only right after a phrase's word.
        if (spaceMayBeBarrier && isAsciiSpace(code) && !this.phraseMayContinue(text, i)) return i + 1;
      } else if ((code < 0xd800 || code > 0xdfff) && !this.nonBarrierRe.test(text[i]!)) {
        return i + 1;
      }
    }
    return 0;
  }

  /**
   * Whether a phrase match could run through the whitespace at `i`: true when the word before
   * the whitespace run ends with a phrase's non-final word (or, to stay exact, when the check
   * meets non-ASCII text it does not model).
   */
  private phraseMayContinue(text: string, i: number): boolean {
    let j = i;
    while (j >= 0 && isAsciiSpace(text.charCodeAt(j))) j--;
    if (j >= 0 && /\s/u.test(text[j]!)) return true; // non-ASCII whitespace continues the run
    let k = j;
    for (; k >= 0; k--) {
      const code = text.charCodeAt(k);
      if (code >= 128) return true;
      if (this.asciiTermChar[code] === 0) break;
    }
    const word = text.slice(k + 1, j + 1).toLowerCase();
    if (word.length === 0) return false;
    for (const head of this.phraseHeads) if (word.endsWith(head)) return true;
    return false;
  }

  /** Sum of match costs in `text`, scanning from `from` (lookbehinds still see text before it). */
  private scan(text: string, from: number): number {
    const re = this.re;
    re.lastIndex = from;
    if (!Number.isNaN(this.uniformCost)) {
      let n = 0;
      while (re.exec(text) !== null) n++;
      return n * this.uniformCost;
    }
    let total = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) total += this.termOf(m[0]).cost;
    return total;
  }

  private termOf(matched: string): Term {
    const hit = this.byKey.get(normalizeKey(matched));
    if (hit !== undefined) return hit;
    // Unicode case folding can equate characters that toLowerCase does not (e.g. "ſ" and "s").
    for (const t of this.termList) if (t.exact.test(matched)) return t;
    throw new Error(`internal: matched text ${JSON.stringify(matched)} is no known term`);
  }
}

/** Why `term` is not a usable lexicon term, or undefined when it is fine. */
function termProblem(term: string): string | undefined {
  const t = term.trim();
  if (t.length === 0) return "term is empty";
  if (/[\p{Cc}\p{Cf}]/u.test(t)) return "term contains control or format characters";
  if (!TERM_START_END.test(t)) return "term must start and end with a letter or digit";
  return undefined;
}

/**
 * Regex source matching exactly the given (lowercased, single-spaced) terms, factored as a trie.
 * A space in a term matches any run of whitespace. At each node the continuations come first and
 * the "stop here" option last, so backtracking prefers the longest term.
 */
function trieSource(terms: readonly string[]): string {
  interface Node {
    end: boolean;
    next: Map<string, Node>;
  }
  const root: Node = { end: false, next: new Map() };
  for (const term of terms) {
    let node = root;
    for (const ch of term) {
      let child = node.next.get(ch);
      if (child === undefined) {
        child = { end: false, next: new Map() };
        node.next.set(ch, child);
      }
      node = child;
    }
    node.end = true;
  }
  const emit = (node: Node): string => {
    const parts = [...node.next.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([ch, child]) => (ch === " " ? "\\s+" : escapeRegex(ch)) + emit(child));
    if (parts.length === 0) return "";
    if (parts.length === 1) return node.end ? `(?:${parts[0]})?` : parts[0]!;
    return `(?:${parts.join("|")})${node.end ? "?" : ""}`;
  };
  return emit(root);
}

function isAsciiSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

function normalizeKey(term: string): string {
  return term.trim().replace(/\s+/gu, " ").toLowerCase();
}

/** Escapes regex syntax characters (valid under the `u` flag, which rejects other escapes). */
function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** Escapes a character for use inside a `u`-flag character class. */
function escapeClassChar(ch: string): string {
  return /[\\\]\[^-]/.test(ch) ? `\\${ch}` : ch;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}
