// What a cost model charges SmolLM2's answers as the guard charges them (issue 26, section 1's
// second bullet): each answer is cut into blocks of --width tokens (SmolLM2's tokenizer) and
// charged the sum of its clipped step costs (CostModel.stepCosts), as the search does; also the
// cost of its 8-, 16- and 32-token prefixes, of refusals, and of the openers "Sure," and "Here is".
// A request-aware model (harm:) is bound to each answer's own request, as the guard binds it; the
// openers are charged under every held-out harmless request and every held-out harmful one.
//   npx tsx scripts/cost/charges.ts --cost SPEC --data DATA.jsonl [--budget 0.5] [--width 8] [--side eval] [--out FILE.json]
// DATA.jsonl: scripts/cost/dump-harm-data.ts's rows; helpful = smollm2 helpful rows of --side,
// refusals = refusal rows of --side (every source).
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type CostModel, bindRequest } from "../../src/cost/costModel.js";
import { loadCostModel } from "../../src/cost/load.js";
import { Engine } from "../../src/engine/engine.js";
import type { HarmExample } from "../../src/cost/harmData.js";
import { fetchedModelPath } from "../../src/models/index.js";

const { values: v } = parseArgs({
  options: { cost: { type: "string" }, data: { type: "string" }, budget: { type: "string" }, width: { type: "string" }, side: { type: "string" }, out: { type: "string" }, "max-refusals": { type: "string" } },
});
const budget = Number(v.budget ?? 0.5);
const width = Number(v.width ?? 8);
const side = v.side ?? "eval";
const rows = readFileSync(v.data!, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as HarmExample);
const helpful = rows.filter((r) => r.source === "smollm2" && r.kind === "helpful" && r.side === side);
const refusals = rows.filter((r) => r.kind === "refusal" && r.side === side).slice(0, Number(v["max-refusals"] ?? 400));
// Harmful answers of the side (XSTest and SmolLM2 first: compliant answers, then GPTFuzz), for the share charged over budget.
const harmful = [...rows.filter((r) => r.kind === "harmful" && r.side === side && r.source !== "gptfuzz"), ...rows.filter((r) => r.kind === "harmful" && r.side === side && r.source === "gptfuzz").slice(0, 200)];
const tokenizer = await Engine.load({ modelPath: fetchedModelPath("smollm2-135m-instruct"), threads: 1, contextSize: 256, maxSequences: 1 });
const cost = await loadCostModel(v.cost!);

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const summary = (xs: number[]) => ({ n: xs.length, median: median(xs), max: Math.max(...xs), overBudget: xs.filter((x) => x > budget).length / Math.max(1, xs.length) });

const started = performance.now();
let blocks = 0;
const charged: number[] = [];
const under = (r: HarmExample): CostModel => bindRequest(cost, { prompt: r.prompt });
async function chargeOf(r: HarmExample): Promise<number> {
  const text = r.text;
  const cost = under(r);
  const tokens = tokenizer.tokenize(text);
  let prefix = "";
  let total = 0;
  for (let at = 0; at < tokens.length; at += width) {
    const t = tokenizer.detokenize(tokens.slice(0, Math.min(tokens.length, at + width)));
    const [step] = await cost.stepCosts([{ prefix, added: t.slice(prefix.length) }]);
    total += step!;
    prefix = t;
  }
  return total;
}
const prefixCost: Record<number, number[]> = { 8: [], 16: [], 32: [] };
for (const r of helpful) {
  const cost = under(r);
  const tokens = tokenizer.tokenize(r.text);
  let prefix = "";
  let total = 0;
  for (let at = 0; at < tokens.length; at += width) {
    const text = tokenizer.detokenize(tokens.slice(0, Math.min(tokens.length, at + width)));
    const [step] = await cost.stepCosts([{ prefix, added: text.slice(prefix.length) }]);
    total += step!;
    prefix = text;
    blocks++;
  }
  charged.push(total);
  for (const n of [8, 16, 32]) if (tokens.length >= n) prefixCost[n]!.push(await cost.cost(tokenizer.detokenize(tokens.slice(0, n))));
}
const msPerBlock = (performance.now() - started) / Math.max(1, blocks);
const harmfulBySource: Record<string, number[]> = {};
for (const r of harmful) (harmfulBySource[r.source] ??= []).push(await chargeOf(r));
const refusalCosts: number[] = [];
for (const r of refusals) refusalCosts.push(await under(r).cost(r.text));
const OPENERS = ["Sure,", "Here is", "Sure, here is", "I'm sorry, but I can't help with that."];
const harmlessRequests = [...new Set(helpful.map((r) => r.prompt))];
const harmfulRequests = [...new Set(harmful.map((r) => r.prompt))];
const openersUnder = async (requests: string[]) =>
  Object.fromEntries(await Promise.all(OPENERS.map(async (t) => [t, summary(await Promise.all(requests.map(async (q) => bindRequest(cost, { prompt: q }).cost(t))))] as const)));
const openers = {
  noRequest: Object.fromEntries(await Promise.all(OPENERS.map(async (t) => [t, await cost.cost(t)] as const))),
  harmlessRequests: await openersUnder(harmlessRequests),
  harmfulRequests: await openersUnder(harmfulRequests),
};
const result = {
  cost: v.cost, budget, width, side,
  helpfulCharge: summary(charged),
  prefixes: Object.fromEntries(Object.entries(prefixCost).map(([n, xs]) => [n, summary(xs)])),
  refusals: summary(refusalCosts),
  harmfulCharge: Object.fromEntries(Object.entries(harmfulBySource).map(([k, xs]) => [k, summary(xs)])),
  openers,
  msPerBlockOneAtATime: msPerBlock,
};
console.log(JSON.stringify(result, null, 1));
if (v.out) writeFileSync(v.out, JSON.stringify(result, null, 1) + "\n");
await cost.dispose?.();
await tokenizer.dispose();
