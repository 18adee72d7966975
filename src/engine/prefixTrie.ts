// The token trie of one chunk of PrefixForward's texts: texts that share a token prefix share its
// nodes, so each node is decoded once and a sequence forks where the trie branches. A node also
// carries mean pooling's running sum of hidden states, and the snapshots of it a kept sequence
// takes along (see keptPrefixes.ts).
import type { KeptPrefix } from "./keptPrefixes.js";

/** Mean pooling: running sums kept for the last positions of a kept sequence (how far back a text may diverge and still reuse it). */
export const MEAN_TAIL = 8;

export interface TrieNode {
  token: number;
  /** KV position of the token. */
  pos: number;
  parent: TrieNode | null;
  children: Map<number, TrieNode>;
  /** Indices of the texts that end at this node. */
  ends: number[];
  seq: number;
  /** Position where this node's sequence got its first own cell (cells before it are shared). */
  branchStart: number;
  /** Mean pooling: sum of the hidden states from position 0 through this node (owned by one branch). */
  sum?: Float64Array;
  /** Mean pooling with reuse: the position of the shallowest leaf below (snapshots are taken within MEAN_TAIL of it). */
  minLeafPos: number;
  /** Mean pooling with reuse: a copy of `sum` after this node, for the kept sequence ending below. */
  snapshot?: Float64Array;
}

/** Where a group of texts starts: after `depth` tokens of `base` (or from nothing). */
export interface TrieRoot {
  base: KeptPrefix | null;
  depth: number;
  children: Map<number, TrieNode>;
}

/** Where a text starts decoding: after `depth` tokens of a kept sequence, or from nothing. */
export type StartOf = (tokens: readonly number[]) => { base: KeptPrefix | null; depth: number };

/**
 * The trie of a chunk's texts (indices into `sequences`): texts that start from the same kept
 * prefix at the same depth share a root. With `markLeaves`, every node knows its shallowest leaf.
 */
export function buildTrie(chunk: readonly number[], sequences: ReadonlyArray<readonly number[]>, startOf: StartOf, markLeaves: boolean): TrieRoot[] {
  const roots = new Map<string, TrieRoot>();
  const rootKeys = new Map<KeptPrefix, number>();
  for (const i of chunk) {
    const tokens = sequences[i];
    const { base, depth } = startOf(tokens);
    let baseId = -1;
    if (base) {
      baseId = rootKeys.get(base) ?? rootKeys.size;
      rootKeys.set(base, baseId);
    }
    const key = `${baseId}:${depth}`;
    let root = roots.get(key);
    if (!root) {
      root = { base, depth, children: new Map() };
      roots.set(key, root);
    }
    let children = root.children;
    let node: TrieNode | null = null;
    for (let p = depth; p < tokens.length; p++) {
      let child = children.get(tokens[p]);
      if (!child) {
        child = { token: tokens[p], pos: p, parent: node, children: new Map(), ends: [], seq: -1, branchStart: p, minLeafPos: Infinity };
        children.set(tokens[p], child);
      }
      node = child;
      children = node.children;
    }
    node!.ends.push(i);
  }
  const all = [...roots.values()];
  if (markLeaves) for (const root of all) for (const child of root.children.values()) markLeafDistance(child);
  return all;
}

/** Sets minLeafPos on a subtree: the position of its shallowest leaf. */
function markLeafDistance(node: TrieNode): number {
  let min = node.children.size === 0 ? node.pos : Infinity;
  for (const child of node.children.values()) min = Math.min(min, markLeafDistance(child));
  node.minLeafPos = min;
  return min;
}

/** The running sums snapshotted on a leaf's path, by token count (pos + 1). */
export function tailSums(leaf: TrieNode): Map<number, Float64Array> {
  const sums = new Map<number, Float64Array>();
  for (let node: TrieNode | null = leaf; node !== null && sums.size < MEAN_TAIL; node = node.parent) {
    if (node.snapshot) sums.set(node.pos + 1, node.snapshot);
  }
  return sums;
}
