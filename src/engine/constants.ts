// The engine's fixed numbers, in a module of their own so that code which only needs a number
// (search, eval, training) does not load node-llama-cpp to get it.

/** Sequences an engine holds unless told otherwise; every engine the package loads for a search uses it. */
export const DEFAULT_MAX_SEQUENCES = 64;

/**
 * Tokens of context kept when detokenizing a piece after earlier ones, so word pieces join as they
 * would in the full text. Every method writes its answer this way, so their texts agree.
 */
export const DETOKENIZE_CONTEXT = 8;

/** The largest context size the engine accepts (2^24 cells); more is a mistake, not a plan. */
export const MAX_CONTEXT_SIZE = 1 << 24;

/** Most generations an engine runs at once (slots.ts): each keeps at least 16 sequences of llama.cpp's 256. */
export const MAX_PARALLEL = 16;
