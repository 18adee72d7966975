// Settings of every decoding method, validated with zod at the library edge. Each setting is
// declared once, in src/settings.ts; these schemas are built from those declarations.
import { z } from "zod";
import { GUARD_SETTINGS, SAMPLING_SETTINGS, shapeOf } from "../settings.js";

export { DEFAULT_CRITIC_WEIGHT } from "../settings.js";

export const samplingOptionsSchema = z.object(shapeOf(SAMPLING_SETTINGS)).strict();
export type SamplingOptions = z.input<typeof samplingOptionsSchema>;
export type ResolvedSamplingOptions = z.output<typeof samplingOptionsSchema>;

export const guardOptionsSchema = z
  .object({ ...shapeOf(SAMPLING_SETTINGS), ...shapeOf(GUARD_SETTINGS) })
  .strict()
  .refine((o) => o.samples >= o.beams, { message: "samples (N) must be >= beams (K)", path: ["samples"] });

export type GuardOptions = z.input<typeof guardOptionsSchema>;
export type ResolvedGuardOptions = z.output<typeof guardOptionsSchema>;

export { parseOptions } from "../errors.js";
