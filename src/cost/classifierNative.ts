// Typed access to the text-classifier kernels of the addon (native/classifier.cpp), and the
// packing of JS strings into the (bytes, offsets, count) triple they read.
import { nativeAddon } from "../native.js";

/** How texts become hashed features; recorded in every model file. */
export interface FeatureSettings {
  /** Version of the extraction algorithm in native/classifier.cpp (bumped on any change). */
  featureVersion: number;
  /** log2 of the number of hash buckets. */
  bucketBits: number;
  /** 1: word unigrams; 2: + bigrams; 3: + trigrams. */
  wordNgrams: number;
  /** Character n-gram lengths within "<word>"; both 0 for none. */
  charMin: number;
  charMax: number;
  /** Value of a char n-gram occurrence (a word feature's is 1), > 0. */
  charWeight: number;
  /** Mixed into every hash. */
  hashSeed: number;
}

export interface NativeTextClassifier {
  /** P(unsafe) per text into outProb; outCount gets each text's feature occurrences (0: no word). */
  score(bytes: Uint8Array, offsets: Uint32Array, count: number, outProb: Float32Array, outCount?: Uint32Array | null): void;
}

export interface NativeClassifierTrainer {
  addExamples(bytes: Uint8Array, offsets: Uint32Array, count: number, labels: Float32Array, weights: Float32Array): number;
  run(batches: number): { loss: number; examples: number; epoch: number; batches: number };
  predict(bytes: Uint8Array, offsets: Uint32Array, count: number, outLogit: Float32Array): void;
  /** Copies the weights into out (buckets floats) and returns the bias. */
  weights(out: Float32Array): number;
  stats(): { examples: number; featureOccurrences: number; featureVersion: number };
}

interface ClassifierAddon {
  CLASSIFIER_FEATURE_VERSION: number;
  classifierFeatures(options: FeatureSettings, bytes: Uint8Array): Int32Array;
  TextClassifier: new (options: FeatureSettings & { weights: Float32Array; bias: number; scale?: number; shift?: number }) => NativeTextClassifier;
  ClassifierTrainer: new (
    options: FeatureSettings & { lr: number; l2: number; batchSize: number; seed: number },
  ) => NativeClassifierTrainer;
}

export function classifierAddon(): ClassifierAddon {
  const addon = nativeAddon() as unknown as Partial<ClassifierAddon>;
  if (typeof addon.TextClassifier !== "function" || typeof addon.ClassifierTrainer !== "function") {
    throw new Error("the native addon has no TextClassifier (stale build?): run `npm run build:native`");
  }
  return addon as ClassifierAddon;
}

/** The feature-extractor version this build implements. */
export function nativeFeatureVersion(): number {
  return classifierAddon().CLASSIFIER_FEATURE_VERSION;
}

/**
 * The hashed features of one text, as the classifier sees them: one entry per occurrence,
 * sign * (bucket + 1). For tests and debugging.
 */
export function textFeatures(settings: FeatureSettings, text: string): Int32Array {
  return classifierAddon().classifierFeatures(settings, new TextEncoder().encode(text));
}

/** Packed texts: text i is bytes[offsets[i], offsets[i + 1]). Views into a TextPacker's buffers. */
export interface PackedTexts {
  bytes: Uint8Array;
  offsets: Uint32Array;
  count: number;
}

/**
 * Encodes strings as UTF-8 into reusable buffers (they grow, never shrink), so scoring a batch
 * allocates nothing once the buffers are big enough. Lone surrogates become U+FFFD, as
 * TextEncoder does. One packer serves one call at a time: a later pack overwrites the buffers.
 */
export class TextPacker {
  private static readonly encoder = new TextEncoder();
  private bytes = new Uint8Array(4096);
  private offsets = new Uint32Array(64);

  pack(texts: ReadonlyArray<string>): PackedTexts {
    const n = texts.length;
    if (this.offsets.length < n + 1) this.offsets = new Uint32Array(Math.max(n + 1, 2 * this.offsets.length));
    let at = 0;
    this.offsets[0] = 0;
    for (let i = 0; i < n; i++) {
      const text = texts[i]!;
      // A UTF-16 code unit takes at most 3 UTF-8 bytes.
      if (this.bytes.length - at < 3 * text.length) this.grow(at + 3 * text.length);
      at += TextPacker.encoder.encodeInto(text, this.bytes.subarray(at)).written;
      this.offsets[i + 1] = at;
    }
    if (at > 0xffffffff) throw new RangeError("texts too large to pack (over 4 GiB of UTF-8)");
    return { bytes: this.bytes, offsets: this.offsets, count: n };
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.max(need, 2 * this.bytes.length));
    next.set(this.bytes);
    this.bytes = next;
  }
}
