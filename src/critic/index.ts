// The critic: a two-head MLP over [model hidden state, safety state z] -> (P(budget holds), value).
export {
  Critic,
  randomCriticSpec,
  seededRandom,
  type CriticOutput,
  type NativeCriticNet,
  type NativeCriticNetConstructor,
  type NativeCriticNetOptions,
  type RandomCriticOptions,
} from "./critic.js";
export {
  CRITIC_ACTIVATIONS,
  CRITIC_FORMAT_VERSION,
  CRITIC_MAGIC,
  assertCriticMatchesModel,
  criticHeaderSchema,
  criticLayerSizes,
  criticLayers,
  criticModelSchema,
  criticPayloadFloats,
  criticTrainingSchema,
  criticWeightCount,
  decodeCritic,
  encodeCritic,
  readCriticFile,
  validateCriticSpec,
  writeCriticFile,
  type CriticActivation,
  type CriticHeader,
  type CriticLayerView,
  type CriticModelInfo,
  type CriticSpec,
  type CriticTrainingInfo,
} from "./format.js";
export { criticWarningsFor } from "./applies.js";
export { activate, referenceForward, type ReferenceOutput } from "./reference.js";
export { sigmoid } from "../util/logistic.js";
