// The `head:PATH` reward: a linear head on a decoder's last-token final hidden state (a decoder
// reward model, Skywork-Reward style: backbone GGUF + score vector; src/reward/headFormat.ts).
//
// Two ways to run it, the same numbers (test/reward/head.test.ts):
//   - on the policy's own hidden states, when the backbone is the GGUF being guarded (same sha256):
//     the search already copies every candidate's last hidden state, so the reward costs one dot
//     product per candidate and no decode;
//   - on its own llama.cpp context otherwise (any GGUF backbone next to any policy): the request is
//     rendered with the backbone's chat template, the answer appended, and PrefixForward decodes
//     only what the last block added (candidates share their beams' cached prefixes).
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Engine, GpuOption } from "../engine/engine.js";
import { PrefixForward } from "../engine/prefixForward.js";
import { loadSideEngine } from "../engine/sideEngine.js";
import { fileSha256 } from "../util/fileHash.js";
import { UserError } from "../errors.js";
import { resolveModel } from "../models/index.js";
import { backboneCandidates } from "./backbone.js";
import { type HeadFile, readHeadFile } from "./headFormat.js";
import type { RewardCandidate, RewardModel, RewardRequest } from "./rewardModel.js";

export const REWARD_MODEL_ENV = "INFERENCE_GUARD_REWARD_MODEL";

export interface HeadLoadOptions {
  /** The GGUF being guarded: when it is the head's backbone, the head reads the search's own hidden states. */
  policyModelPath?: string;
  /** Run the backbone in its own context even when it is the policy (tests compare the two routes). */
  ownContext?: boolean;
  /** The backbone GGUF, instead of the one the file names (its sha256 must match). */
  backbonePath?: string;
  threads?: number;
  gpu?: GpuOption;
}

/** w . h + b */
export function headLogit(w: Float32Array, b: number, h: ArrayLike<number>): number {
  let z = b;
  for (let j = 0; j < w.length; j++) z += w[j] * h[j];
  return z;
}

export class HeadRewardModel implements RewardModel {
  readonly needsHidden: boolean;
  private readonly w: Float32Array;
  private readonly b: number;
  private readonly forward?: PrefixForward;

  private constructor(
    readonly name: string,
    readonly file: HeadFile,
    private readonly engine: Engine | undefined,
  ) {
    this.w = Float32Array.from(file.weights);
    this.b = file.bias;
    this.needsHidden = engine === undefined;
    if (engine) this.forward = new PrefixForward(engine, { output: { kind: "hidden", pooling: "last" } });
  }

  static async load(path: string, options: HeadLoadOptions = {}): Promise<HeadRewardModel> {
    const file = resolve(path);
    const head = readHeadFile(file);
    const name = `head:${file}`;
    if (!options.ownContext && options.policyModelPath !== undefined && (await isBackbone(head, options.policyModelPath))) {
      return new HeadRewardModel(name, head, undefined);
    }
    const backbone = await resolveBackbone(head, file, options.backbonePath);
    const engine = await loadSideEngine(backbone, { threads: options.threads, gpu: options.gpu }, { contextSize: 4096, maxSequences: 65, threads: 1 });
    if (engine.info.nEmbd !== head.backbone.nEmbd) {
      await engine.dispose();
      throw new UserError(`reward head ${file} expects hidden size ${head.backbone.nEmbd} but ${backbone} has ${engine.info.nEmbd}`);
    }
    return new HeadRewardModel(name, head, engine);
  }

  score(request: RewardRequest, candidates: readonly RewardCandidate[]): number[] {
    if (this.engine === undefined) {
      return candidates.map((c) => {
        if (c.hidden === undefined) throw new Error(`${this.name}: a candidate came without its hidden state`);
        return headLogit(this.w, this.b, c.hidden);
      });
    }
    const engine = this.engine;
    const messages = request.messages ?? [{ role: "user" as const, content: request.prompt ?? "" }];
    const prompt = engine.chatPrompt(messages);
    const states = this.forward!.run(candidates.map((c) => prompt.concat(engine.tokenize(c.text))));
    return states.map((h) => headLogit(this.w, this.b, h));
  }

  shareAmong(callers: number): void {
    this.forward?.shareAmong(callers);
  }

  async dispose(): Promise<void> {
    await this.engine?.dispose();
  }
}

/** Whether `modelPath` is the head's backbone: same size, then same sha256 (hashed once per file). */
async function isBackbone(head: HeadFile, modelPath: string): Promise<boolean> {
  if (!existsSync(modelPath) || statSync(modelPath).size !== head.backbone.size) return false;
  return (await fileSha256(modelPath)) === head.backbone.sha256;
}

/**
 * The backbone GGUF: given, $INFERENCE_GUARD_REWARD_MODEL, or where the file records it (beside the
 * head, else the model cache folder); checked against its sha256.
 */
async function resolveBackbone(head: HeadFile, headPath: string, override?: string): Promise<string> {
  const fromEnv = process.env[REWARD_MODEL_ENV];
  const recorded = backboneCandidates(dirname(headPath), head.backbone.path, head.backbone.file);
  const [modelPath, how] = override
    ? [resolve(resolveModel(override)), "given"]
    : fromEnv
      ? [resolve(resolveModel(fromEnv)), `from $${REWARD_MODEL_ENV}`]
      : [recorded.find((p) => existsSync(p)) ?? recorded[recorded.length - 1]!, recorded.length > 1 ? "recorded in the head file, then the model cache" : "recorded in the head file"];
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) {
    throw new UserError(`reward head ${headPath} needs its backbone ${head.backbone.file}, not found at ${modelPath} (${how}): set $${REWARD_MODEL_ENV} to that GGUF`);
  }
  if ((await fileSha256(modelPath)) !== head.backbone.sha256) {
    throw new UserError(`reward head ${headPath} was trained on ${head.backbone.file} (sha256 ${head.backbone.sha256.slice(0, 12)}…), but ${modelPath} (${how}) is another model`);
  }
  return modelPath;
}
