// Access to the text-classifier kernels of the addon (native/classifier/classifier.cpp; types in src/native.ts), and the
// packing of JS strings into the (bytes, offsets, count) triple they read.
import { nativeAddon, nativeKernel, type FeatureSettings, type NativeAddon } from "../../native.js";

export type { FeatureSettings, NativeClassifierTrainer, NativeTextClassifier } from "../../native.js";

type ClassifierAddon = Pick<NativeAddon, "CLASSIFIER_FEATURE_VERSION" | "classifierFeatures" | "TextClassifier" | "ClassifierTrainer">;

export function classifierAddon(): ClassifierAddon {
  nativeKernel("TextClassifier");
  nativeKernel("ClassifierTrainer");
  return nativeAddon();
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
