// The critic at run time: a thin wrapper over the native CriticNet (native/critic/critic.cpp).
import { nativeKernel, type NativeCriticNet, type NativeCriticNetConstructor } from "../native.js";
import { UserError } from "../errors.js";
import { mulberry32 } from "../util/random.js";
import {
  type CriticActivation,
  type CriticHeader,
  type CriticModelInfo,
  type CriticSpec,
  type CriticTrainingInfo,
  CRITIC_FORMAT_VERSION,
  criticLayerSizes,
  criticPayloadFloats,
  criticWeightCount,
  readCriticFile,
  validateCriticSpec,
} from "./format.js";

export type { NativeCriticNet, NativeCriticNetConstructor, NativeCriticNetOptions } from "../native.js";

function nativeCriticNet(): NativeCriticNetConstructor {
  return nativeKernel("CriticNet");
}

export interface CriticOutput {
  /** Probability that the budget holds at the end, per row. */
  safety: Float32Array;
  /** Task value per row. */
  value: Float32Array;
}

export class Critic {
  readonly header: CriticHeader;
  private readonly net: NativeCriticNet;
  private safetyBuf = new Float32Array(0);
  private valueBuf = new Float32Array(0);

  private constructor(header: CriticHeader, net: NativeCriticNet) {
    this.header = header;
    this.net = net;
  }

  /** Loads and verifies a critic file (see readCriticFile); check it with assertCriticMatchesModel. */
  static load(path: string): Critic {
    return Critic.fromSpec(readCriticFile(path), path);
  }

  static fromSpec(spec: CriticSpec, source = "critic"): Critic {
    const header = validateCriticSpec(spec, source);
    const Net = nativeCriticNet();
    const net = new Net({
      inputDim: header.inputDim,
      hidden: [...header.hidden],
      activation: header.activation,
      weights: spec.weights,
      ...(header.normalization ? { mean: spec.mean, std: spec.std } : {}),
    });
    return new Critic(header, net);
  }

  /** The model hidden size the critic expects per row. */
  get nEmbd(): number {
    return this.header.hiddenDim;
  }

  /**
   * Scores `rows` rows: hidden is rows x nEmbd floats (row-major), z one float per row.
   * The returned arrays are views of internal buffers that the next evaluate() overwrites;
   * copy them (or use evaluateInto) to keep results.
   */
  evaluate(hidden: Float32Array, z: Float32Array, rows: number): CriticOutput {
    if (this.safetyBuf.length < rows) {
      const size = Math.max(rows, 2 * this.safetyBuf.length);
      this.safetyBuf = new Float32Array(size);
      this.valueBuf = new Float32Array(size);
    }
    const safety = this.safetyBuf.subarray(0, rows);
    const value = this.valueBuf.subarray(0, rows);
    this.net.forward(hidden, z, rows, safety, value);
    return { safety, value };
  }

  /** Like evaluate, into caller-owned arrays (at least `rows` long each). */
  evaluateInto(hidden: Float32Array, z: Float32Array, rows: number, outSafety: Float32Array, outValue: Float32Array): void {
    this.net.forward(hidden, z, rows, outSafety, outValue);
  }
}


export interface RandomCriticOptions {
  nEmbd: number;
  hidden: number[];
  activation: CriticActivation;
  seed: number;
  /** The model the critic is for; defaults to { nEmbd }. */
  model?: CriticModelInfo;
  /** Biases are drawn from U(-biasScale, biasScale); 0 (the default) is the usual Xavier init. */
  biasScale?: number;
  /** Input normalisation vectors (inputDim = nEmbd + 1 floats each). */
  normalization?: { mean: ArrayLike<number>; std: ArrayLike<number> };
  training?: CriticTrainingInfo;
}

/**
 * A critic with seeded Xavier-uniform weights, W ~ U(-a, a) with a = sqrt(6 / (in + out)):
 * a deterministic starting point for training and a fixture for tests.
 */
export function randomCriticSpec(options: RandomCriticOptions): CriticSpec {
  const { nEmbd, hidden, activation, seed } = options;
  if (options.model && options.model.nEmbd !== nEmbd) {
    throw new UserError(`randomCriticSpec: model.nEmbd (${options.model.nEmbd}) differs from nEmbd (${nEmbd})`);
  }
  const inputDim = nEmbd + 1;
  const normalization = options.normalization !== undefined;
  const header: CriticHeader = {
    formatVersion: CRITIC_FORMAT_VERSION,
    inputDim,
    hiddenDim: nEmbd,
    hidden: [...hidden],
    activation,
    outputs: ["safety", "value"],
    normalization,
    model: options.model ?? { nEmbd },
    ...(options.training ? { training: options.training } : {}),
    payloadFloats: 0,
  };
  header.payloadFloats = criticPayloadFloats(header);

  const rand = seededRandom(seed);
  const weights = new Float32Array(criticWeightCount(header));
  const sizes = criticLayerSizes(header);
  const biasScale = options.biasScale ?? 0;
  let offset = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l];
    const fanOut = sizes[l + 1];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < fanIn * fanOut; i++) weights[offset++] = (2 * rand() - 1) * limit;
    for (let o = 0; o < fanOut; o++) weights[offset++] = (2 * rand() - 1) * biasScale;
  }

  const spec: CriticSpec = { header, weights };
  if (options.normalization) {
    spec.mean = Float32Array.from(options.normalization.mean);
    spec.std = Float32Array.from(options.normalization.std);
  }
  validateCriticSpec(spec, "randomCriticSpec");
  return spec;
}

/** The seeded PRNG for initial weights (the project-wide mulberry32, under its older name here). */
export const seededRandom = mulberry32;
