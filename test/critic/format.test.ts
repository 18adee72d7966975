// The critic file format: round trips and every refusal.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { UserError } from "../../src/errors.js";
import { randomCriticSpec, seededRandom } from "../../src/critic/critic.js";
import {
  CRITIC_MAGIC,
  type CriticSpec,
  assertCriticMatchesModel,
  criticHeaderSchema,
  decodeCritic,
  encodeCritic,
  readCriticFile,
  writeCriticFile,
} from "../../src/critic/format.js";

const dir = mkdtempSync(join(tmpdir(), "critic-format-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function normalizedSpec(): CriticSpec {
  const rand = seededRandom(4);
  const inputDim = 33;
  return randomCriticSpec({
    nEmbd: 32,
    hidden: [16, 8],
    activation: "gelu",
    seed: 7,
    biasScale: 0.1,
    model: { name: "tiny-llama", file: "models/tiny.gguf", nEmbd: 32, nVocab: 32000, sha256: "ab".repeat(32) },
    normalization: {
      mean: Array.from({ length: inputDim }, () => rand() - 0.5),
      std: Array.from({ length: inputDim }, () => 0.5 + rand()),
    },
    training: { epochs: 3, lr: 1e-3, seed: 7, budget: 0.1, createdAt: "2025-01-01T00:00:00Z", command: ["ig", "train"], metrics: { auc: 0.9 }, note: "extra" },
  });
}

/** Builds a file around an arbitrary header object with a valid checksum (for schema tests). */
function rawFile(header: unknown, payload: Float32Array, version = 1): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(16);
  prefix.write(CRITIC_MAGIC, 0, "latin1");
  prefix.writeUInt32LE(version, 8);
  prefix.writeUInt32LE(json.length, 12);
  const body = Buffer.concat([prefix, json, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]);
  return Buffer.concat([body, createHash("sha256").update(body).digest()]);
}

function payloadOf(spec: CriticSpec): Float32Array {
  const parts = [spec.mean, spec.std, spec.weights].filter((a): a is Float32Array => a !== undefined);
  const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of parts) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function refusal(fn: () => unknown): UserError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    const e = error as UserError;
    expect(e.message).not.toContain("\n"); // one line
    return e;
  }
  throw new Error("expected a UserError");
}

describe("critic file round trip", () => {
  test("encode/decode keeps the header and the arrays exactly", () => {
    const spec = normalizedSpec();
    const bytes = encodeCritic(spec);
    expect(bytes.toString("latin1", 0, 8)).toBe("IGCRITIC");
    expect(bytes.readUInt32LE(8)).toBe(1);
    const headerLen = bytes.readUInt32LE(12);
    expect((16 + headerLen) % 8).toBe(0); // payload is aligned
    expect(bytes.length).toBe(16 + headerLen + 4 * spec.header.payloadFloats + 32);

    const back = decodeCritic(bytes);
    expect(back.header).toEqual(spec.header);
    expect(back.header.training?.note).toBe("extra"); // unknown training keys survive
    expect(Array.from(back.weights)).toEqual(Array.from(spec.weights));
    expect(Array.from(back.mean!)).toEqual(Array.from(spec.mean!));
    expect(Array.from(back.std!)).toEqual(Array.from(spec.std!));
  });

  test("writeCriticFile/readCriticFile round trip, atomically, without normalization", () => {
    const spec = randomCriticSpec({ nEmbd: 64, hidden: [64, 64], activation: "relu", seed: 1 });
    const path = join(dir, "sub", "critic.igc");
    writeCriticFile(path, spec);
    writeCriticFile(path, spec); // overwriting an existing file works
    expect(readdirSync(join(dir, "sub"))).toEqual(["critic.igc"]); // no temp files left behind
    const back = readCriticFile(path);
    expect(back.header).toEqual(spec.header);
    expect(back.mean).toBeUndefined();
    expect(back.std).toBeUndefined();
    expect(Array.from(back.weights)).toEqual(Array.from(spec.weights));
  });

  test("payloadFloats is recomputed on write", () => {
    const spec = randomCriticSpec({ nEmbd: 8, hidden: [4], activation: "tanh", seed: 2 });
    const back = decodeCritic(encodeCritic({ ...spec, header: { ...spec.header, payloadFloats: 1 } }));
    expect(back.header.payloadFloats).toBe(9 * 4 + 4 + 4 * 2 + 2);
  });
});

describe("critic file refusals", () => {
  const spec = normalizedSpec();
  const good = encodeCritic(spec);
  const payloadStart = 16 + good.readUInt32LE(12);

  test("a flipped payload byte is reported as corruption", () => {
    const bad = Buffer.from(good);
    bad[payloadStart + 4 * 70 + 1] ^= 0x40;
    expect(refusal(() => decodeCritic(bad, "c.igc")).message).toMatch(/^c\.igc: corrupt: checksum mismatch$/);
  });

  test("a flipped header byte is reported as corruption", () => {
    const bad = Buffer.from(good);
    const at = bad.indexOf("tiny-llama");
    bad[at] = "T".charCodeAt(0); // still valid JSON and schema: only the checksum notices
    expect(refusal(() => decodeCritic(bad)).message).toMatch(/corrupt/);
    const broken = Buffer.from(good);
    broken[16] = "x".charCodeAt(0); // the JSON no longer parses
    expect(refusal(() => decodeCritic(broken)).message).toMatch(/corrupt/);
  });

  test("a flipped checksum byte is reported as corruption", () => {
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 1;
    expect(refusal(() => decodeCritic(bad)).message).toMatch(/corrupt/);
  });

  test("truncated files are refused", () => {
    for (const keep of [good.length - 1, good.length - 40, payloadStart + 10]) {
      expect(refusal(() => decodeCritic(good.subarray(0, keep))).message).toMatch(/truncated: \d+ bytes, .*\d+/);
    }
    expect(refusal(() => decodeCritic(good.subarray(0, 12))).message).toMatch(/truncated/);
    expect(refusal(() => decodeCritic(good.subarray(0, 40))).message).toMatch(/truncated/);
    const path = join(dir, "truncated.igc");
    writeFileSync(path, good.subarray(0, good.length - 100));
    expect(refusal(() => readCriticFile(path)).message).toContain(`${path}: truncated`);
  });

  test("trailing bytes are a payload length mismatch", () => {
    const longer = Buffer.concat([good, Buffer.alloc(4)]);
    expect(refusal(() => decodeCritic(longer)).message).toMatch(/payload length mismatch: 4 unexpected bytes/);
  });

  test("bad magic is 'not a critic file'", () => {
    const bad = Buffer.from(good);
    bad.write("GGUF", 0, "latin1");
    expect(refusal(() => decodeCritic(bad)).message).toMatch(/not a critic file/);
    expect(refusal(() => decodeCritic(Buffer.from("IGC"))).message).toMatch(/not a critic file/);
    expect(refusal(() => decodeCritic(Buffer.alloc(0))).message).toMatch(/not a critic file/);
  });

  test("another format version is unsupported", () => {
    const bad = Buffer.from(good);
    bad.writeUInt32LE(2, 8);
    expect(refusal(() => decodeCritic(bad)).message).toMatch(/unsupported critic format version 2 \(this build reads version 1\)/);
  });

  test("a header that fails the schema is refused with the failing field", () => {
    const payload = payloadOf(spec);
    const withHeader = (patch: Record<string, unknown>) => rawFile({ ...spec.header, ...patch }, payload);
    expect(decodeCritic(withHeader({})).header).toEqual(spec.header); // the helper itself is sound
    expect(refusal(() => decodeCritic(withHeader({ activation: "swish" }))).message).toMatch(/header fails schema: activation:/);
    expect(refusal(() => decodeCritic(withHeader({ outputs: ["value", "safety"] }))).message).toMatch(/header fails schema: outputs/);
    expect(refusal(() => decodeCritic(withHeader({ inputDim: 34 }))).message).toMatch(/header fails schema: inputDim: must be hiddenDim \+ 1 = 33/);
    expect(refusal(() => decodeCritic(withHeader({ model: { nEmbd: 64 } }))).message).toMatch(/model\.nEmbd: must equal hiddenDim/);
    expect(refusal(() => decodeCritic(withHeader({ hidden: [16, 0] }))).message).toMatch(/hidden\.1/);
    expect(refusal(() => decodeCritic(withHeader({ formatVersion: 2 }))).message).toMatch(/formatVersion/);
    expect(refusal(() => decodeCritic(withHeader({ training: { epochs: -1 } }))).message).toMatch(/training\.epochs/);
    expect(refusal(() => decodeCritic(rawFile({ ...spec.header, model: undefined }, payload))).message).toMatch(/header fails schema: model/);
    expect(refusal(() => decodeCritic(rawFile([1, 2], payload))).message).toMatch(/header fails schema/);
    const notJson = rawFile({}, payload);
    notJson.write("{", 17, "latin1"); // "{}" becomes "{{"
    // Re-seal so the checksum is valid: the problem is the JSON itself, not damage.
    const body = notJson.subarray(0, notJson.length - 32);
    createHash("sha256").update(body).digest().copy(notJson, notJson.length - 32);
    expect(refusal(() => decodeCritic(notJson)).message).toMatch(/header is not valid JSON/);
  });

  test("payloadFloats that disagrees with the layer sizes is a payload length mismatch", () => {
    const payload = payloadOf(spec);
    const bad = rawFile({ ...spec.header, payloadFloats: spec.header.payloadFloats + 1 }, payload);
    expect(refusal(() => decodeCritic(bad)).message).toMatch(/payload length mismatch: header says \d+ floats, layer sizes 33-16-8-2 with normalization need \d+/);
  });

  test("non-finite weights and non-positive std are refused", () => {
    const nan = normalizedSpec();
    nan.weights[5] = Number.NaN;
    expect(refusal(() => decodeCritic(rawFile(nan.header, payloadOf(nan)))).message).toMatch(/weight 5 is NaN/);
    expect(refusal(() => encodeCritic(nan)).message).toMatch(/weight 5 is NaN/);
    const zeroStd = normalizedSpec();
    zeroStd.std![3] = 0;
    expect(refusal(() => decodeCritic(rawFile(zeroStd.header, payloadOf(zeroStd)))).message).toMatch(/std\[3\] is 0/);
  });

  test("encode refuses inconsistent specs", () => {
    const s = randomCriticSpec({ nEmbd: 8, hidden: [4], activation: "relu", seed: 1 });
    expect(refusal(() => encodeCritic({ ...s, weights: s.weights.subarray(1) })).message).toMatch(/payload length mismatch/);
    expect(refusal(() => encodeCritic({ ...s, mean: new Float32Array(9), std: new Float32Array(9).fill(1) })).message).toMatch(
      /normalization is false/,
    );
    expect(refusal(() => encodeCritic({ ...s, header: { ...s.header, normalization: true } })).message).toMatch(/mean\/std are missing/);
  });

  test("a missing file is a clear UserError", () => {
    expect(refusal(() => readCriticFile(join(dir, "nope.igc"))).message).toMatch(/critic file not found: .*nope\.igc/);
  });

  test("the exported schema accepts the written header", () => {
    expect(criticHeaderSchema.safeParse(JSON.parse(good.toString("utf8", 16, payloadStart))).success).toBe(true);
  });
});

describe("assertCriticMatchesModel", () => {
  const spec = normalizedSpec();

  test("refuses a model with another hidden size, naming both sizes", () => {
    const message = refusal(() => assertCriticMatchesModel(spec, { nEmbd: 4096, name: "llama-8b" })).message;
    expect(message).toContain("hidden size 32");
    expect(message).toContain("hidden size 4096");
    expect(message).toContain("tiny-llama");
    expect(message).toContain("llama-8b");
  });

  test("refuses another vocabulary (another model's states), in one line", () => {
    const message = refusal(() => assertCriticMatchesModel(spec, { nEmbd: 32, nVocab: 49152, name: "smollm2" })).message;
    expect(message).toMatch(/32000-token vocabulary .* has 49152/);
    expect(message).not.toContain("\n");
  });

  test("a file name decides nothing; another GGUF of the same shape (sha256) is a warning", () => {
    expect(assertCriticMatchesModel(spec, { nEmbd: 32, nVocab: 32000, name: "tiny-llama" })).toEqual([]);
    expect(assertCriticMatchesModel(spec, { nEmbd: 32 })).toEqual([]);
    expect(assertCriticMatchesModel(spec, { nEmbd: 32, nVocab: 32000, name: "any-other-name.gguf", sha256: "AB".repeat(32) })).toEqual([]);
    const warnings = assertCriticMatchesModel(spec, { nEmbd: 32, nVocab: 32000, name: "tiny-llama", sha256: "cd".repeat(32) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/another GGUF \(tiny-llama\) \(sha256 abababababab…\) of the same shape .*sha256 cdcdcdcdcdcd…/);
  });
});
