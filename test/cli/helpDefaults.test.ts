// The defaults that --help states for the search flags are the library's real defaults (help text
// is hand-written, and once said N=16 after the default had become 8).
import { BATCH_HELP } from "../../src/cli/batch.js";
import { GENERATE_HELP } from "../../src/cli/generate.js";
import { PUSH_HELP } from "../../src/cli/queue.js";
import { SERVE_HELP } from "../../src/cli/serve.js";
import { guardOptionsSchema } from "../../src/search/options.js";

const defaults = guardOptionsSchema.parse({});
const FLAG_OPTION: Record<string, keyof typeof defaults> = {
  "--budget": "budget",
  "--beams": "beams",
  "--samples": "samples",
  "--width": "width",
  "--max-resamples": "maxResamples",
  "--penalty": "penalty",
  "--on-unsafe": "onUnsafe",
  "--branch": "branch",
  "--max-tokens": "maxTokens",
  "--temperature": "temperature",
  "--critic-weight": "criticWeight",
};

/** flag -> the text inside "(default ...)" on its help line. */
function statedDefaults(help: string): Map<string, string> {
  const stated = new Map<string, string>();
  for (const line of help.split("\n")) {
    const m = /^\s+(--[a-z-]+)\b.*\(default ([^);]+)[);]/.exec(line);
    if (m) stated.set(m[1], m[2].trim());
  }
  return stated;
}

test.each([
  ["generate", GENERATE_HELP],
  ["batch", BATCH_HELP],
  ["serve", SERVE_HELP],
  ["queue push", PUSH_HELP],
])("%s --help states the library's search defaults", (_name, help) => {
  const stated = statedDefaults(help);
  const checked = Object.entries(FLAG_OPTION).filter(([flag]) => stated.has(flag));
  expect(checked.length).toBeGreaterThanOrEqual(6);
  for (const [flag, option] of checked) expect([flag, stated.get(flag)]).toEqual([flag, String(defaults[option])]);
});
