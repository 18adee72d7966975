// The "classifier" cost model: a text's cost is a trained classifier's P(unsafe), in [0, 1].
//
// With the step cost max(0, P(prefix + added) - P(prefix)) (src/cost/costModel.ts), the steps of
// an answer sum to at least its peak P(unsafe), so a budget d reads "the answer's harm
// probability never rises above d", as the rules model's reads "at most d conflict words".
// A text without a single word (empty, only punctuation) has no features and costs 0, rather than
// the classifier's prior sigmoid(bias): otherwise an answer's first block would be charged only
// the rise above that prior, and the steps would no longer add up to the final text's cost.
import { isAbsolute, resolve } from "node:path";
import { UserError } from "../../errors.js";
import { type CostModel, type StepItem, batchedStepCosts } from "../costModel.js";
import {
  type ClassifierHeader,
  type ClassifierSpec,
  featureSettings,
  readClassifierFile,
  validateClassifierSpec,
} from "./classifierFormat.js";
import { type NativeTextClassifier, TextPacker, classifierAddon } from "./classifierNative.js";

/** A loaded classifier: scores texts in batches, one native call per batch. */
export class TextClassifier {
  readonly header: ClassifierHeader;
  private readonly net: NativeTextClassifier;
  private readonly packer = new TextPacker();
  private probBuf = new Float32Array(64);
  private countBuf = new Uint32Array(64);

  private constructor(header: ClassifierHeader, net: NativeTextClassifier) {
    this.header = header;
    this.net = net;
  }

  /** Loads and verifies a model file; refuses one made by another feature-extractor version. */
  static load(path: string): TextClassifier {
    return TextClassifier.fromSpec(readClassifierFile(path), path);
  }

  static fromSpec(spec: ClassifierSpec, source = "classifier"): TextClassifier {
    const header = validateClassifierSpec(spec, source);
    const addon = classifierAddon();
    if (header.features.featureVersion !== addon.CLASSIFIER_FEATURE_VERSION) {
      throw new UserError(
        `${source}: made with feature extractor version ${header.features.featureVersion}, but this build extracts version ` +
          `${addon.CLASSIFIER_FEATURE_VERSION}; retrain it with \`inference-guard train-cost\``,
      );
    }
    const net = new addon.TextClassifier({
      ...featureSettings(header.features),
      weights: spec.weights,
      bias: header.bias,
      scale: header.calibration.scale,
      shift: header.calibration.shift,
    });
    return new TextClassifier(header, net);
  }

  /**
   * P(unsafe) per text, in order; a text without any word scores 0 (see the top of this file).
   * The returned array is fresh; scoreInto avoids even that allocation.
   */
  score(texts: ReadonlyArray<string>): Float64Array {
    const out = new Float64Array(texts.length);
    this.scoreInto(texts, out);
    return out;
  }

  /** Like score, into `out` (at least texts.length long). */
  scoreInto(texts: ReadonlyArray<string>, out: Float64Array | Float32Array | number[]): void {
    const n = texts.length;
    if (this.probBuf.length < n) {
      this.probBuf = new Float32Array(Math.max(n, 2 * this.probBuf.length));
      this.countBuf = new Uint32Array(this.probBuf.length);
    }
    const packed = this.packer.pack(texts);
    this.net.score(packed.bytes, packed.offsets, n, this.probBuf, this.countBuf);
    for (let i = 0; i < n; i++) out[i] = this.countBuf[i] === 0 ? 0 : this.probBuf[i]!;
  }
}

/** CostModel over a TextClassifier: cost = P(unsafe); step cost = its clipped increase. */
export class ClassifierCostModel implements CostModel {
  readonly name: string;
  readonly classifier: TextClassifier;
  /** A probability. */
  readonly maxCost = 1;

  constructor(classifier: TextClassifier, name: string) {
    this.classifier = classifier;
    this.name = name;
  }

  cost(text: string): number {
    return this.classifier.score([text])[0]!;
  }

  /**
   * max(0, P(prefix + added) - P(prefix)) per item. One native call scores every distinct prefix
   * once (the beams share a few) and every prefix + added.
   */
  stepCosts(items: ReadonlyArray<StepItem>): number[] {
    return batchedStepCosts(items, (texts) => this.classifier.score(texts));
  }
}

/**
 * The cost model of spec `classifier:PATH`: `arg` is the model file, relative to `baseDir` unless
 * absolute. Every problem with the file is a one-line UserError.
 */
export async function loadClassifierCostModel(arg: string, baseDir: string): Promise<CostModel> {
  const file = isAbsolute(arg) ? arg : resolve(baseDir, arg);
  return new ClassifierCostModel(TextClassifier.load(file), `classifier:${file}`);
}
