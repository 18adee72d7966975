// Public API of offline batch jobs (re-exported by the package's main index).
export { answerJob, resultRecord, runBatch, seedFor } from "./runBatch.js";
export type { AnswerOptions, BatchOptions, BatchSummary, BatchResult } from "./runBatch.js";
export { parseBatchInput, readBatchInput } from "./input.js";
export type { BatchJob, BatchId, BatchInput, InputProblem } from "./input.js";
export { ResultsFile } from "./results.js";
