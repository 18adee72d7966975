#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace {
uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
}  // namespace

double uniformFor(uint64_t seed, uint64_t row) {
    const uint64_t bits = splitmix64(splitmix64(seed) ^ (row * 0xD6E8FEB86659FD93ull + 1));
    return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);  // 53 random bits
}

SampleResult sampleRow(const float* logits, int32_t nVocab, const SampleParams& params,
                       const int32_t* biasTokens, const float* biasValues, int32_t nBias,
                       double uniform, std::vector<float>& scratch, std::vector<int32_t>& order) {
    // Base log-normaliser (the reward signal is the unbiased model's log-probability).
    float baseMax = -std::numeric_limits<float>::infinity();
    for (int32_t i = 0; i < nVocab; i++) baseMax = std::max(baseMax, logits[i]);
    double baseSum = 0.0;
    for (int32_t i = 0; i < nVocab; i++) baseSum += std::exp(static_cast<double>(logits[i] - baseMax));
    const double baseLogZ = baseMax + std::log(baseSum);

    scratch.assign(logits, logits + nVocab);
    for (int32_t b = 0; b < nBias; b++) {
        const int32_t t = biasTokens[b];
        if (t >= 0 && t < nVocab) scratch[t] += biasValues[b];
    }

    int32_t chosen = 0;
    if (params.temperature <= 0.0f) {
        chosen = static_cast<int32_t>(std::max_element(scratch.begin(), scratch.end()) - scratch.begin());
    } else {
        const float invT = 1.0f / params.temperature;
        float maxBiased = *std::max_element(scratch.begin(), scratch.end());
        const bool truncate = (params.topK > 0 && params.topK < nVocab) || params.topP < 1.0f;
        if (!truncate) {
            double total = 0.0;
            for (int32_t i = 0; i < nVocab; i++) {
                scratch[i] = static_cast<float>(std::exp(static_cast<double>((scratch[i] - maxBiased) * invT)));
                total += scratch[i];
            }
            double target = uniform * total, acc = 0.0;
            chosen = nVocab - 1;
            for (int32_t i = 0; i < nVocab; i++) {
                acc += scratch[i];
                if (acc > target) { chosen = i; break; }
            }
        } else {
            order.resize(nVocab);
            for (int32_t i = 0; i < nVocab; i++) order[i] = i;
            int32_t keep = (params.topK > 0 && params.topK < nVocab) ? params.topK : nVocab;
            auto byLogit = [&](int32_t a, int32_t b) { return scratch[a] > scratch[b] || (scratch[a] == scratch[b] && a < b); };
            std::partial_sort(order.begin(), order.begin() + keep, order.end(), byLogit);
            std::vector<double> probs(keep);
            double total = 0.0;
            for (int32_t k = 0; k < keep; k++) {
                probs[k] = std::exp(static_cast<double>((scratch[order[k]] - maxBiased) * invT));
                total += probs[k];
            }
            if (params.topP < 1.0f) {
                double acc = 0.0;
                int32_t cut = keep;
                for (int32_t k = 0; k < keep; k++) {
                    acc += probs[k] / total;
                    if (acc >= params.topP) { cut = k + 1; break; }
                }
                keep = cut;
                total = 0.0;
                for (int32_t k = 0; k < keep; k++) total += probs[k];
            }
            double target = uniform * total, acc = 0.0;
            chosen = order[keep - 1];
            for (int32_t k = 0; k < keep; k++) {
                acc += probs[k];
                if (acc > target) { chosen = order[k]; break; }
            }
        }
    }
    return SampleResult{chosen, static_cast<float>(logits[chosen] - baseLogZ)};
}
