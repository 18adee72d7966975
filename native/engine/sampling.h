// Token sampling from one row of logits: temperature, top-k, top-p, additive logit bias.
// Pure C++ with no llama.cpp dependency so it can be unit-tested through the addon on synthetic rows.
#pragma once

#include <cstdint>
#include <vector>

struct SampleParams {
    float temperature = 1.0f;  // <= 0 means greedy (argmax)
    int32_t topK = 0;          // 0 = off
    float topP = 1.0f;         // 1 = off
};

struct SampleResult {
    int32_t token;
    float baseLogProb;  // log p(token) under the unbiased model distribution at temperature 1
};

// Uniform double in [0, 1) from a seed and a row index (counter-based: order-independent, reproducible).
double uniformFor(uint64_t seed, uint64_t row);

// bias: (token, value) pairs added to the logits before sampling; scratch is reused across calls.
SampleResult sampleRow(const float* logits, int32_t nVocab, const SampleParams& params,
                       const int32_t* biasTokens, const float* biasValues, int32_t nBias,
                       double uniform, std::vector<float>& scratch, std::vector<int32_t>& order);
