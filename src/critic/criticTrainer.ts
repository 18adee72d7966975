// Typed access to the native critic trainer (native/critic/trainer.cpp); its types are in src/native.ts.
import { nativeKernel, type CriticTrainerOptions, type NativeCriticTrainer } from "../native.js";

export type { AdamState, CriticTrainerOptions, NativeCriticTrainer, TrainerLoss } from "../native.js";
export { seedHalves } from "../native.js";

export function createCriticTrainer(options: CriticTrainerOptions): NativeCriticTrainer {
  return new (nativeKernel("CriticTrainer"))(options);
}
