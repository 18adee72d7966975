// JSON Lines input files (prompts, probe data): a byte-order mark is accepted, a bad line named.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { describeZodError } from "../../src/errors.js";
import { readJsonLinesFile } from "../../src/util/jsonLines.js";

const dir = mkdtempSync(join(tmpdir(), "inference-guard-jsonl-"));
const format = { noun: "prompts file", shape: '{"prompt": "..."}', schema: z.object({ prompt: z.string() }), describe: describeZodError };

test("a UTF-8 byte-order mark before line 1 is not part of its JSON", () => {
  const path = join(dir, "bom.jsonl");
  writeFileSync(path, '\uFEFF{"prompt": "Once"}\r\n{"prompt": "Twice"}\r\n');
  expect(readJsonLinesFile(path, format)).toEqual([{ prompt: "Once" }, { prompt: "Twice" }]);
});

test("a bad line is named by file and number", () => {
  const path = join(dir, "bad.jsonl");
  writeFileSync(path, '{"prompt": "Once"}\n{"prompt": 3}\n');
  expect(() => readJsonLinesFile(path, format)).toThrow(/bad\.jsonl:2: prompt/);
});
