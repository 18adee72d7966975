// The training prompts set aside for choosing a classifier's output scale (scripts/cost/calibrate.ts):
// 30% of prompt ids by hash, so every answer to one prompt is on the same side.
import { createHash } from "node:crypto";

export function calibrationFold(promptId: string): boolean {
  return createHash("sha256").update(`calibration-v1\0${promptId}`).digest().readUInt32BE(0) / 2 ** 32 < 0.3;
}
