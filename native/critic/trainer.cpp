// Trainer of the critic MLP (the network of native/critic/critic.cpp and src/critic/format.ts):
// x = [h (nEmbd floats), z], normalised as (x - mean) / std, hidden layers with the activation,
// a linear 2-output head: output[0] = safety logit, output[1] = task value.
//
// Loss per row: safetyWeight * BCE(sigmoid(logit), ySafe) + valueWeight * (value - yValue)^2,
// averaged over the minibatch. Optimiser: Adam with decoupled weight decay (AdamW) on the W
// matrices (biases are not decayed). Everything is float32 except the loss sums reported to JS.
//
// Exported to JS as `CriticTrainer` (typed in src/native.ts):
//   new CriticTrainer({ inputDim, hidden, activation, weights, mean, std, lr, beta1?, beta2?, eps?,
//                       weightDecay?, safetyWeight?, valueWeight?, maxBatch? })
//   trainEpoch(hidden, z, ySafe, yValue, rows, batchSize, seedHi, seedLo) -> { loss, safetyLoss, valueLoss, batches }
//   evaluate(hidden, z, ySafe, yValue, rows, outLogit, outValue) -> { loss, safetyLoss, valueLoss }
//   gradient(hidden, z, ySafe, yValue, rows, outGrad) -> { loss, ... }   (gradient of the mean loss, no update)
//   getWeights() / setWeights(w), getAdamState() -> { m, v, step } / setAdamState({ m, v, step })
//
// Determinism: an epoch's minibatch order is a Fisher-Yates shuffle driven by splitmix64 from the
// given 64-bit seed, and every sum runs in a fixed order, so the same weights, Adam state, data and
// seed give bit-identical results. That is what makes a resumed run equal an uninterrupted one.
//
// Memory: every buffer is sized at construction for maxBatch rows (trainEpoch's permutation grows
// only when it sees more rows than before), so a minibatch step never allocates.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

enum class Act { Relu, Tanh, Gelu, Silu };

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluA = 0.044715f;

inline float sigmoidF(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
}

inline float activate(Act a, float x) {
    switch (a) {
        case Act::Relu: return x > 0.0f ? x : 0.0f;
        case Act::Tanh: return std::tanh(x);
        case Act::Gelu: return 0.5f * x * (1.0f + std::tanh(kGeluC * (x + kGeluA * x * x * x)));
        case Act::Silu: return x * sigmoidF(x);
    }
    return x;
}

// d activate / dx at pre-activation x (y = activate(x), passed to save work where it helps).
inline float activateGrad(Act a, float x, float y) {
    switch (a) {
        case Act::Relu: return x > 0.0f ? 1.0f : 0.0f;
        case Act::Tanh: return 1.0f - y * y;
        case Act::Gelu: {
            const float t = std::tanh(kGeluC * (x + kGeluA * x * x * x));
            return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluA * x * x);
        }
        case Act::Silu: {
            const float s = sigmoidF(x);
            return s * (1.0f + x * (1.0f - s));
        }
    }
    return 1.0f;
}

// Dot product with 8 independent partial sums: vectorisable without -ffast-math, and the
// summation order depends only on n, so results are reproducible.
inline float dot(const float* a, const float* b, size_t n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        for (size_t j = 0; j < 8; j++) s[j] += a[k + j] * b[k + j];
    }
    for (; k < n; k++) s[k % 8] += a[k] * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// y += alpha * x (vectorises as is).
inline void axpy(float* y, const float* x, float alpha, size_t n) {
    for (size_t k = 0; k < n; k++) y[k] += alpha * x[k];
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

bool parseAct(const std::string& name, Act& out) {
    if (name == "relu") out = Act::Relu;
    else if (name == "tanh") out = Act::Tanh;
    else if (name == "gelu") out = Act::Gelu;
    else if (name == "silu") out = Act::Silu;
    else return false;
    return true;
}

[[noreturn]] void typeError(Napi::Env env, const std::string& what) { throw Napi::TypeError::New(env, "CriticTrainer: " + what); }
[[noreturn]] void rangeError(Napi::Env env, const std::string& what) { throw Napi::RangeError::New(env, "CriticTrainer: " + what); }

Napi::Float32Array readF32(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) typeError(env, what + " must be a Float32Array");
    return v.As<Napi::Float32Array>();
}

double readNumber(Napi::Env env, const Napi::Value& v, const std::string& what, double lo, double hi) {
    if (!v.IsNumber()) typeError(env, what + " must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < lo || d > hi) {
        rangeError(env, what + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.ToString().Utf8Value());
    }
    return d;
}

size_t readCount(Napi::Env env, const Napi::Value& v, const std::string& what, double lo, double hi) {
    const double d = readNumber(env, v, what, lo, hi);
    if (std::floor(d) != d) rangeError(env, what + " must be an integer, got " + v.ToString().Utf8Value());
    return static_cast<size_t>(d);
}

double optNumber(Napi::Env env, Napi::Object o, const char* key, double fallback, double lo, double hi) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return fallback;
    return readNumber(env, v, key, lo, hi);
}

struct LayerShape {
    size_t in, out, wOffset, bOffset;
};

struct LossSums {
    double safety = 0, value = 0;
};

class CriticTrainer : public Napi::ObjectWrap<CriticTrainer> {
public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "CriticTrainer",
                           {InstanceMethod<&CriticTrainer::TrainEpoch>("trainEpoch"),
                            InstanceMethod<&CriticTrainer::Evaluate>("evaluate"),
                            InstanceMethod<&CriticTrainer::Gradient>("gradient"),
                            InstanceMethod<&CriticTrainer::GetWeights>("getWeights"),
                            InstanceMethod<&CriticTrainer::SetWeights>("setWeights"),
                            InstanceMethod<&CriticTrainer::GetAdamState>("getAdamState"),
                            InstanceMethod<&CriticTrainer::SetAdamState>("setAdamState")});
    }

    explicit CriticTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CriticTrainer>(info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsObject()) {
            typeError(env, "expected an options object {inputDim, hidden, activation, weights, mean, std, lr, ...}");
        }
        Napi::Object o = info[0].As<Napi::Object>();
        inputDim_ = readCount(env, o.Get("inputDim"), "inputDim", 2, 1 << 24);
        nEmbd_ = inputDim_ - 1;

        Napi::Value hiddenV = o.Get("hidden");
        if (!hiddenV.IsArray()) typeError(env, "hidden must be an array of layer sizes");
        Napi::Array hiddenA = hiddenV.As<Napi::Array>();
        if (hiddenA.Length() > 16) rangeError(env, "at most 16 hidden layers");
        sizes_.push_back(inputDim_);
        for (uint32_t i = 0; i < hiddenA.Length(); i++) sizes_.push_back(readCount(env, hiddenA.Get(i), "hidden[" + std::to_string(i) + "]", 1, 1 << 16));
        sizes_.push_back(2);

        Napi::Value actV = o.Get("activation");
        if (!actV.IsString()) typeError(env, "activation must be a string");
        const std::string actName = actV.As<Napi::String>().Utf8Value();
        if (!parseAct(actName, act_)) rangeError(env, "unknown activation \"" + actName + "\" (expected relu, tanh, gelu or silu)");

        size_t offset = 0;
        for (size_t l = 0; l + 1 < sizes_.size(); l++) {
            LayerShape s{sizes_[l], sizes_[l + 1], offset, offset + sizes_[l] * sizes_[l + 1]};
            offset = s.bOffset + s.out;
            layers_.push_back(s);
        }
        nWeights_ = offset;

        Napi::Float32Array w = readF32(env, o.Get("weights"), "weights");
        if (w.ElementLength() != nWeights_) {
            rangeError(env, "weights has " + std::to_string(w.ElementLength()) + " floats, the layer sizes need " + std::to_string(nWeights_));
        }
        weights_.assign(w.Data(), w.Data() + nWeights_);
        checkFinite(env, weights_.data(), nWeights_, "weights");

        Napi::Float32Array mean = readF32(env, o.Get("mean"), "mean");
        Napi::Float32Array stdev = readF32(env, o.Get("std"), "std");
        if (mean.ElementLength() != inputDim_ || stdev.ElementLength() != inputDim_) {
            rangeError(env, "mean and std must have inputDim (" + std::to_string(inputDim_) + ") floats");
        }
        mean_.assign(mean.Data(), mean.Data() + inputDim_);
        invStd_.resize(inputDim_);
        for (size_t i = 0; i < inputDim_; i++) {
            if (!(stdev[i] > 0.0f) || !std::isfinite(stdev[i]) || !std::isfinite(mean[i])) {
                rangeError(env, "std[" + std::to_string(i) + "] must be positive and finite, mean finite");
            }
            invStd_[i] = 1.0f / stdev[i];
        }

        lr_ = static_cast<float>(readNumber(env, o.Get("lr"), "lr", 0, 10));
        beta1_ = optNumber(env, o, "beta1", 0.9, 0, 0.999999);
        beta2_ = optNumber(env, o, "beta2", 0.999, 0, 0.99999999);
        eps_ = static_cast<float>(optNumber(env, o, "eps", 1e-8, 0, 1));
        weightDecay_ = static_cast<float>(optNumber(env, o, "weightDecay", 0, 0, 10));
        safetyWeight_ = static_cast<float>(optNumber(env, o, "safetyWeight", 1, 0, 1e6));
        valueWeight_ = static_cast<float>(optNumber(env, o, "valueWeight", 1, 0, 1e6));
        maxBatch_ = static_cast<size_t>(optNumber(env, o, "maxBatch", 1024, 1, 1 << 20));

        m_.assign(nWeights_, 0.0f);
        v_.assign(nWeights_, 0.0f);
        grad_.assign(nWeights_, 0.0f);
        decay_.assign(nWeights_, 0);
        for (const LayerShape& s : layers_) std::fill(decay_.begin() + s.wOffset, decay_.begin() + s.bOffset, 1);

        size_t widest = 0;
        for (size_t sz : sizes_) widest = std::max(widest, sz);
        acts_.resize(sizes_.size());
        for (size_t l = 0; l < sizes_.size(); l++) acts_[l].assign(maxBatch_ * sizes_[l], 0.0f);
        pre_.resize(sizes_.size());
        for (size_t l = 1; l + 1 < sizes_.size(); l++) pre_[l].assign(maxBatch_ * sizes_[l], 0.0f);
        deltaA_.assign(maxBatch_ * widest, 0.0f);
        deltaB_.assign(maxBatch_ * widest, 0.0f);
        batchRows_.assign(maxBatch_, 0);
    }

private:
    // Views of the four data arrays a call takes, checked against `rows`.
    struct Data {
        const float* hidden;
        const float* z;
        const float* ySafe;
        const float* yValue;
        size_t rows;
    };

    Data readData(const Napi::CallbackInfo& info, const char* method, size_t rowsArg) {
        Napi::Env env = info.Env();
        const std::string m = method;
        const size_t rows = readCount(env, info[rowsArg], m + ": rows", 0, 2147483647.0);
        Napi::Float32Array hidden = readF32(env, info[0], m + ": hidden");
        Napi::Float32Array z = readF32(env, info[1], m + ": z");
        Napi::Float32Array ySafe = readF32(env, info[2], m + ": ySafe");
        Napi::Float32Array yValue = readF32(env, info[3], m + ": yValue");
        if (hidden.ElementLength() < rows * nEmbd_) {
            rangeError(env, m + ": hidden has " + std::to_string(hidden.ElementLength()) + " floats, needs rows x nEmbd = " +
                                std::to_string(rows * nEmbd_));
        }
        if (z.ElementLength() < rows || ySafe.ElementLength() < rows || yValue.ElementLength() < rows) {
            rangeError(env, m + ": z, ySafe and yValue need one float per row (" + std::to_string(rows) + ")");
        }
        return {hidden.Data(), z.Data(), ySafe.Data(), yValue.Data(), rows};
    }

    // trainEpoch(hidden, z, ySafe, yValue, rows, batchSize, seedHi, seedLo)
    Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() != 8) typeError(env, "trainEpoch(hidden, z, ySafe, yValue, rows, batchSize, seedHi, seedLo): expected 8 arguments");
        const Data d = readData(info, "trainEpoch", 4);
        const size_t batch = readCount(env, info[5], "trainEpoch: batchSize", 1, static_cast<double>(maxBatch_));
        const uint64_t hi = readCount(env, info[6], "trainEpoch: seedHi", 0, 4294967295.0);
        const uint64_t lo = readCount(env, info[7], "trainEpoch: seedLo", 0, 4294967295.0);

        if (perm_.size() < d.rows) perm_.resize(d.rows);
        for (size_t i = 0; i < d.rows; i++) perm_[i] = static_cast<uint32_t>(i);
        uint64_t state = (hi << 32) | lo;
        for (size_t i = d.rows; i > 1; i--) {
            const size_t j = static_cast<size_t>(splitmix64(state) % i);
            std::swap(perm_[i - 1], perm_[j]);
        }

        LossSums total;
        size_t batches = 0;
        for (size_t start = 0; start < d.rows; start += batch) {
            const size_t n = std::min(batch, d.rows - start);
            std::copy(perm_.begin() + start, perm_.begin() + start + n, batchRows_.begin());
            const LossSums s = forwardBackward(d, batchRows_.data(), n, true);
            total.safety += s.safety;
            total.value += s.value;
            adamStep();
            batches++;
        }
        return lossObject(env, total, d.rows);
    }

    // evaluate(hidden, z, ySafe, yValue, rows, outLogit, outValue): forward only, no update.
    Napi::Value Evaluate(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() != 7) typeError(env, "evaluate(hidden, z, ySafe, yValue, rows, outLogit, outValue): expected 7 arguments");
        const Data d = readData(info, "evaluate", 4);
        Napi::Float32Array outLogit = readF32(env, info[5], "evaluate: outLogit");
        Napi::Float32Array outValue = readF32(env, info[6], "evaluate: outValue");
        if (outLogit.ElementLength() < d.rows || outValue.ElementLength() < d.rows) rangeError(env, "evaluate: outputs need one float per row");
        LossSums total;
        for (size_t start = 0; start < d.rows; start += maxBatch_) {
            const size_t n = std::min(maxBatch_, d.rows - start);
            for (size_t r = 0; r < n; r++) batchRows_[r] = static_cast<uint32_t>(start + r);
            const LossSums s = forwardBackward(d, batchRows_.data(), n, false);
            total.safety += s.safety;
            total.value += s.value;
            const float* head = acts_.back().data();
            for (size_t r = 0; r < n; r++) {
                outLogit[start + r] = head[r * 2];
                outValue[start + r] = head[r * 2 + 1];
            }
        }
        return lossObject(env, total, d.rows);
    }

    // gradient(hidden, z, ySafe, yValue, rows, outGrad): d(mean loss)/d(weights) over all rows in
    // one batch (rows <= maxBatch), without an update. For tests against finite differences.
    Napi::Value Gradient(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() != 6) typeError(env, "gradient(hidden, z, ySafe, yValue, rows, outGrad): expected 6 arguments");
        const Data d = readData(info, "gradient", 4);
        if (d.rows < 1 || d.rows > maxBatch_) rangeError(env, "gradient: rows must be in [1, maxBatch]");
        Napi::Float32Array out = readF32(env, info[5], "gradient: outGrad");
        if (out.ElementLength() != nWeights_) rangeError(env, "gradient: outGrad must have " + std::to_string(nWeights_) + " floats");
        for (size_t r = 0; r < d.rows; r++) batchRows_[r] = static_cast<uint32_t>(r);
        const LossSums s = forwardBackward(d, batchRows_.data(), d.rows, true);
        std::copy(grad_.begin(), grad_.end(), out.Data());
        return lossObject(env, s, d.rows);
    }

    Napi::Value GetWeights(const Napi::CallbackInfo& info) { return copyOut(info.Env(), weights_); }

    void SetWeights(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        Napi::Float32Array w = readF32(env, info[0], "setWeights: weights");
        if (w.ElementLength() != nWeights_) rangeError(env, "setWeights: expected " + std::to_string(nWeights_) + " floats");
        checkFinite(env, w.Data(), nWeights_, "setWeights: weights");
        std::copy(w.Data(), w.Data() + nWeights_, weights_.begin());
    }

    Napi::Value GetAdamState(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("m", copyOut(env, m_));
        o.Set("v", copyOut(env, v_));
        o.Set("step", Napi::Number::New(env, static_cast<double>(step_)));
        return o;
    }

    void SetAdamState(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsObject()) typeError(env, "setAdamState({m, v, step}): expected an object");
        Napi::Object o = info[0].As<Napi::Object>();
        Napi::Float32Array m = readF32(env, o.Get("m"), "setAdamState: m");
        Napi::Float32Array v = readF32(env, o.Get("v"), "setAdamState: v");
        if (m.ElementLength() != nWeights_ || v.ElementLength() != nWeights_) {
            rangeError(env, "setAdamState: m and v must have " + std::to_string(nWeights_) + " floats");
        }
        checkFinite(env, m.Data(), nWeights_, "setAdamState: m");
        checkFinite(env, v.Data(), nWeights_, "setAdamState: v");
        for (size_t i = 0; i < nWeights_; i++) {
            if (v[i] < 0.0f) rangeError(env, "setAdamState: v must be non-negative");
        }
        const size_t step = readCount(env, o.Get("step"), "setAdamState: step", 0, 9007199254740991.0);
        std::copy(m.Data(), m.Data() + nWeights_, m_.begin());
        std::copy(v.Data(), v.Data() + nWeights_, v_.begin());
        step_ = step;
    }

    // ---- the math ----

    // Forward pass of rows idx[0..n) (and, if wantGrad, the backward pass into grad_).
    // Returns the sums over the rows of the two loss terms (unweighted BCE and squared error).
    LossSums forwardBackward(const Data& d, const uint32_t* idx, size_t n, bool wantGrad) {
        // Layer 0: the normalised input rows.
        float* x0 = acts_[0].data();
        for (size_t r = 0; r < n; r++) {
            const float* h = d.hidden + static_cast<size_t>(idx[r]) * nEmbd_;
            float* row = x0 + r * inputDim_;
            for (size_t k = 0; k < nEmbd_; k++) row[k] = (h[k] - mean_[k]) * invStd_[k];
            row[nEmbd_] = (d.z[idx[r]] - mean_[nEmbd_]) * invStd_[nEmbd_];
        }
        const size_t L = layers_.size();
        for (size_t l = 0; l < L; l++) {
            const LayerShape& s = layers_[l];
            const float* W = weights_.data() + s.wOffset;
            const float* b = weights_.data() + s.bOffset;
            const float* in = acts_[l].data();
            float* out = acts_[l + 1].data();
            const bool head = l + 1 == L;
            float* pre = head ? nullptr : pre_[l + 1].data();
            for (size_t r = 0; r < n; r++) {
                const float* xr = in + r * s.in;
                for (size_t o = 0; o < s.out; o++) {
                    const float y = dot(W + o * s.in, xr, s.in) + b[o];
                    if (head) {
                        out[r * s.out + o] = y;
                    } else {
                        pre[r * s.out + o] = y;
                        out[r * s.out + o] = activate(act_, y);
                    }
                }
            }
        }

        // Loss and the head's delta (d mean loss / d output).
        LossSums sums;
        const float* headOut = acts_[L].data();
        float* delta = deltaA_.data();
        const float invN = 1.0f / static_cast<float>(n);
        for (size_t r = 0; r < n; r++) {
            const float logit = headOut[r * 2], value = headOut[r * 2 + 1];
            const float ys = d.ySafe[idx[r]], yv = d.yValue[idx[r]];
            // Stable BCE with logits: max(s, 0) - s*y + log(1 + exp(-|s|)).
            sums.safety += static_cast<double>(std::max(logit, 0.0f) - logit * ys + std::log1p(std::exp(-std::fabs(logit))));
            const float err = value - yv;
            sums.value += static_cast<double>(err) * err;
            delta[r * 2] = safetyWeight_ * invN * (sigmoidF(logit) - ys);
            delta[r * 2 + 1] = valueWeight_ * invN * 2.0f * err;
        }
        if (!wantGrad) return sums;

        std::fill(grad_.begin(), grad_.end(), 0.0f);
        float* next = deltaB_.data();
        for (size_t l = L; l-- > 0;) {
            const LayerShape& s = layers_[l];
            const float* W = weights_.data() + s.wOffset;
            float* gW = grad_.data() + s.wOffset;
            float* gb = grad_.data() + s.bOffset;
            const float* in = acts_[l].data();
            // dW[o][:] += delta[r][o] * x[r][:], db[o] += delta[r][o]
            for (size_t r = 0; r < n; r++) {
                const float* xr = in + r * s.in;
                const float* dr = delta + r * s.out;
                for (size_t o = 0; o < s.out; o++) {
                    axpy(gW + o * s.in, xr, dr[o], s.in);
                    gb[o] += dr[o];
                }
            }
            if (l == 0) break;  // no gradient w.r.t. the input
            // delta_prev[r][k] = (sum_o delta[r][o] W[o][k]) * act'(pre[r][k])
            const float* pre = pre_[l].data();
            const float* post = acts_[l].data();
            for (size_t r = 0; r < n; r++) {
                float* pr = next + r * s.in;
                std::fill(pr, pr + s.in, 0.0f);
                const float* dr = delta + r * s.out;
                for (size_t o = 0; o < s.out; o++) axpy(pr, W + o * s.in, dr[o], s.in);
                for (size_t k = 0; k < s.in; k++) pr[k] *= activateGrad(act_, pre[r * s.in + k], post[r * s.in + k]);
            }
            std::swap(delta, next);
        }
        return sums;
    }

    void adamStep() {
        step_++;
        const double t = static_cast<double>(step_);
        const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(beta1_, t)));
        const float c2 = static_cast<float>(1.0 / (1.0 - std::pow(beta2_, t)));
        const float b1 = static_cast<float>(beta1_), b2 = static_cast<float>(beta2_);
        for (size_t i = 0; i < nWeights_; i++) {
            const float g = grad_[i];
            m_[i] = b1 * m_[i] + (1.0f - b1) * g;
            v_[i] = b2 * v_[i] + (1.0f - b2) * g * g;
            const float update = (m_[i] * c1) / (std::sqrt(v_[i] * c2) + eps_);
            weights_[i] -= lr_ * (update + (decay_[i] ? weightDecay_ * weights_[i] : 0.0f));
        }
    }

    Napi::Object lossObject(Napi::Env env, const LossSums& s, size_t rows) const {
        const double n = rows > 0 ? static_cast<double>(rows) : 1.0;
        Napi::Object o = Napi::Object::New(env);
        o.Set("safetyLoss", Napi::Number::New(env, s.safety / n));
        o.Set("valueLoss", Napi::Number::New(env, s.value / n));
        o.Set("loss", Napi::Number::New(env, (safetyWeight_ * s.safety + valueWeight_ * s.value) / n));
        return o;
    }

    static Napi::Float32Array copyOut(Napi::Env env, const std::vector<float>& v) {
        Napi::Float32Array out = Napi::Float32Array::New(env, v.size());
        std::copy(v.begin(), v.end(), out.Data());
        return out;
    }

    static void checkFinite(Napi::Env env, const float* p, size_t n, const std::string& what) {
        for (size_t i = 0; i < n; i++) {
            if (!std::isfinite(p[i])) rangeError(env, what + "[" + std::to_string(i) + "] is not finite");
        }
    }

    size_t inputDim_ = 0, nEmbd_ = 0, nWeights_ = 0, maxBatch_ = 0;
    std::vector<size_t> sizes_;
    std::vector<LayerShape> layers_;
    Act act_ = Act::Tanh;
    std::vector<float> weights_, mean_, invStd_;
    float lr_ = 1e-3f, eps_ = 1e-8f, weightDecay_ = 0, safetyWeight_ = 1, valueWeight_ = 1;
    double beta1_ = 0.9, beta2_ = 0.999;
    uint64_t step_ = 0;
    std::vector<float> m_, v_, grad_;
    std::vector<uint8_t> decay_;
    std::vector<std::vector<float>> acts_;  // per layer: maxBatch x size (acts_[0] = normalised input)
    std::vector<std::vector<float>> pre_;   // hidden layers' pre-activations
    std::vector<float> deltaA_, deltaB_;    // maxBatch x widest: backward ping-pong
    std::vector<uint32_t> batchRows_;       // the current minibatch's row indices
    std::vector<uint32_t> perm_;            // the epoch's shuffled row order
};

}  // namespace

void InitTrainer(Napi::Env env, Napi::Object exports) {
    exports.Set("CriticTrainer", CriticTrainer::Define(env));
}
