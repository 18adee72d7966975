// The baseline decoding methods of the evaluation, on the same Engine as InferenceGuard.
export { generateArgs, TopK, type ArgsRequest } from "./args.js";
export { generateBeam, type BeamRequest } from "./beam.js";
export { argBest, generateBestOfN, type BestOfNRequest, type BestOfNRule } from "./bestOfN.js";
export { blockTexts, chargedCostCurves, maxOf } from "./blocks.js";
export { piecewiseText, type BaselineResult, type CandidateSummary } from "./result.js";
export { generateGreedy, generateSample, sampleAnswers, type SampledAnswer, type SampleRequest, type SingleAnswerRequest } from "./sampling.js";
export { growTree, type GrowOptions, type TreeLeaf, type TreeRoot } from "../tree.js";
