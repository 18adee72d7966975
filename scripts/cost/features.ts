// Caches SmolLM2's hidden states (last token and mean over tokens, as `probe:` reads them) of the
// cost data's texts, for the probe comparison (scripts/cost/compare.py). Resumable: rows already
// in the cache are skipped, and each chunk of 16 texts is appended (floats) and then indexed (a
// JSON line), so a killed run loses at most one chunk.
//   npx tsx scripts/cost/features.ts --data harm-data.jsonl --cache DIR [--model GGUF] [--max-tokens 48]
//     [--select FILE.json]    (row indices to do, in order; default: every row)
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Engine } from "../../src/engine/engine.js";
import { batchInvariantKvCacheType } from "../../src/engine/kvCacheType.js";
import { PrefixForward } from "../../src/engine/prefixForward.js";
import { fileSha256 } from "../../src/util/fileHash.js";
import { fetchedModelPath } from "../../src/models/index.js";

const { values: v } = parseArgs({
  options: { data: { type: "string" }, cache: { type: "string" }, model: { type: "string" }, "max-tokens": { type: "string" }, select: { type: "string" } },
});
const modelPath = resolve(v.model ?? fetchedModelPath("smollm2-135m-instruct"));
const maxTokens = Number(v["max-tokens"] ?? 48);
const cache = resolve(v.cache!);
mkdirSync(cache, { recursive: true });
const rows = readFileSync(resolve(v.data!), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { text: string });
const order: number[] = v.select ? (JSON.parse(readFileSync(v.select, "utf8")) as number[]) : rows.map((_, i) => i);

const modelSha = await fileSha256(modelPath);
const tag = `${modelSha.slice(0, 12)}-t${maxTokens}`;
const floatsPath = join(cache, `${tag}.f32`);
const indexPath = join(cache, `${tag}.index.jsonl`);
const textKey = (t: string): string => createHash("sha256").update(t).digest("hex").slice(0, 24);
const done = new Set<string>();
if (existsSync(indexPath)) for (const l of readFileSync(indexPath, "utf8").split("\n")) if (l.trim()) done.add((JSON.parse(l) as { key: string }).key);
// A chunk whose floats were written but not indexed is cut off: the index says where the floats end.
const engine = await Engine.load({ modelPath, threads: 1, contextSize: 16 * maxTokens + 64, maxSequences: 17, kvCacheType: batchInvariantKvCacheType(modelPath) });
const nEmbd = engine.info.nEmbd;
const rowBytes = 2 * nEmbd * 4;
if (existsSync(floatsPath) && statSync(floatsPath).size !== done.size * rowBytes) {
  const { truncateSync } = await import("node:fs");
  truncateSync(floatsPath, done.size * rowBytes);
}
const todo = [...new Set(order.map((i) => rows[i]!.text))].filter((t) => !done.has(textKey(t)));
console.log(`${todo.length} texts to do (${done.size} cached) -> ${floatsPath}`);
const forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: "both" }, reuse: false, maxTexts: 16, flightCells: 16 * maxTokens + 16 });
const started = performance.now();
for (let at = 0; at < todo.length; at += 16) {
  const chunk = todo.slice(at, at + 16);
  const out = forward.run(chunk.map((t) => engine.completionPrompt(t).slice(0, maxTokens)));
  const buf = new Float32Array(chunk.length * 2 * nEmbd);
  out.forEach((r, k) => buf.set(r.subarray(0, 2 * nEmbd), k * 2 * nEmbd));
  appendFileSync(floatsPath, Buffer.from(buf.buffer));
  appendFileSync(indexPath, chunk.map((t) => JSON.stringify({ key: textKey(t) })).join("\n") + "\n");
  const n = at + chunk.length;
  console.log(`${n}/${todo.length} ${(((performance.now() - started) / n) | 0)} ms/text`);
}
await engine.dispose();
