// The critic: a small MLP over x = [h (nEmbd floats), z (1 float)] with two outputs,
// output[0] = safety logit (returned as sigmoid(logit)) and output[1] = task value (linear).
//
// Exported to JS as `CriticNet` (see src/critic/critic.ts for the typed wrapper):
//   new CriticNet({ inputDim, hidden: number[], activation, weights, mean?, std?, maxBatch? })
//   net.forward(hidden, z, rows, outSafety, outValue)
//
// `weights` holds every layer's W (row-major W[out][in]) followed by its b, layer by layer
// (hidden layers first, then the 2-output head) — the payload order of the critic file format.
//
// Layout for speed: each layer's W is repacked at load time into panels of kPanel (8) output
// columns, panel[p][k][j] = W[p*kPanel + j][k], so the micro-kernel streams contiguous panel rows
// while a tile of (rows x panels) accumulators stays in SIMD registers: per input k it broadcasts
// one input per row and does a vector multiply-add per panel (no horizontal sums, so no
// -ffast-math needed). Rows go through the whole network kBlockRows at a time, and the first
// layer's input is gathered (and normalised) kDepth features at a time, so the working set stays
// in L1/L2 and a forward call never allocates, whatever the batch size.
//
// Every output sums its inputs in the same order (k = 0, 1, ...) whatever the tile shape, the
// batch size or the row's position in it, so a row's result does not depend on its batch.
// Hidden activations use a polynomial exp (relative error ~1e-7) instead of libm so they vectorise.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#if defined(_MSC_VER)
#define IG_ALWAYS_INLINE __forceinline
#else
#define IG_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

// GCC/Clang: SIMD kernels written with vector extensions (IG_NO_VECTOR_EXT forces the portable
// scalar fallback, e.g. to test it). On x86-64 they are also compiled for AVX2+FMA and picked at
// run time; the baseline build only assumes SSE2 (IG_NO_AVX2_KERNEL forces the baseline).
#if defined(__GNUC__) && !defined(IG_NO_VECTOR_EXT)
#define IG_VECTOR_EXT 1
#endif
#if defined(IG_VECTOR_EXT) && defined(__x86_64__) && !defined(IG_NO_AVX2_KERNEL)
#define IG_AVX2_KERNEL 1
#endif

namespace {

constexpr size_t kPanel = 8;       // output columns per packed panel: one AVX or two SSE registers
constexpr size_t kRowTile = 6;     // rows per micro-kernel tile (6 rows x 1-2 panels of accumulators)
constexpr size_t kBlockRows = 24;  // rows pushed through all layers together (activations stay in cache)
constexpr size_t kDepth = 256;     // inputs per pass: a panel slice is 256*8*4 B = 8 KiB, L1-resident

enum class Activation { Relu, Tanh, Gelu, Silu };

// 64-byte aligned, zero-initialised float storage.
struct AlignedDelete {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedDelete>;

AlignedFloats allocFloats(size_t n) {
    const size_t count = std::max<size_t>(n, 1);
    auto* p = static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t(64)));
    std::memset(p, 0, count * sizeof(float));
    return AlignedFloats(p);
}

size_t roundUp(size_t n, size_t m) { return (n + m - 1) / m * m; }

struct Layer {
    size_t in = 0, out = 0, outPad = 0;
    AlignedFloats panels;  // (outPad / kPanel) panels of in x kPanel floats; padding columns are 0
    AlignedFloats bias;    // outPad floats; padding is 0
};

constexpr size_t clampQ(size_t q) { return q < 1 ? 1 : q > 4 ? 4 : q; }

#ifdef IG_VECTOR_EXT
// GCC/Clang vector extensions. The kernels are written with explicit vectors because, left to
// itself, the loop vectoriser vectorises the GEMM over k (with shuffles) instead of keeping a tile
// in registers, and -ftrapping-math (the default) stops it from if-converting the exp clamps.
// Vector helpers are always inlined, so the ABI note GCC emits for 32-byte vector arguments on
// the SSE2 baseline does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float Vec4 __attribute__((vector_size(16)));
typedef float Vec8 __attribute__((vector_size(32)));
// The same vectors, readable from any float address (A rows and C tiles need not be aligned).
typedef float Vec4u __attribute__((vector_size(16), aligned(alignof(float)), may_alias));
typedef float Vec8u __attribute__((vector_size(32), aligned(alignof(float)), may_alias));

template <typename V> struct UnalignedOf;
template <> struct UnalignedOf<Vec4> { using type = Vec4u; };
template <> struct UnalignedOf<Vec8> { using type = Vec8u; };

template <typename V>
constexpr size_t kLanes = sizeof(V) / sizeof(float);

template <typename V>
IG_ALWAYS_INLINE V loadV(const float* p) { return *reinterpret_cast<const typename UnalignedOf<V>::type*>(p); }

template <typename V>
IG_ALWAYS_INLINE void storeV(float* p, V v) { *reinterpret_cast<typename UnalignedOf<V>::type*>(p) = v; }

template <typename V>
IG_ALWAYS_INLINE V splat(float x) { return V{} + x; }

// mask ? a : b lane by lane, with bitwise ops (older Clang lacks ?: on GCC-style vectors).
template <typename V, typename VI>
IG_ALWAYS_INLINE V blend(VI mask, V a, V b) {
    VI ai, bi;
    std::memcpy(&ai, &a, sizeof a);
    std::memcpy(&bi, &b, sizeof b);
    const VI bits = (mask & ai) | (~mask & bi);
    V out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

#define IG_UNROLL _Pragma("GCC unroll 16")

// One register tile: R rows x Q panels (Q*kPanel outputs), L vectors of V per panel row.
// For each output C[r][j] += sum_k A[r][k] * P_q[k][j], summed in k order, so the result does not
// depend on the tile shape. R*Q*L independent accumulator chains hide the multiply-add latency.
template <typename V, size_t R, size_t Q>
IG_ALWAYS_INLINE void microTile(const float* A, size_t lda, const float* P, size_t panelStride, size_t depth, float* C,
                                size_t ldc) {
    constexpr size_t W = kLanes<V>, L = kPanel / W;
    V acc[R][Q * L];
    IG_UNROLL for (size_t r = 0; r < R; r++)
        IG_UNROLL for (size_t q = 0; q < Q; q++)
            IG_UNROLL for (size_t l = 0; l < L; l++) acc[r][q * L + l] = loadV<V>(C + r * ldc + q * kPanel + l * W);
    for (size_t k = 0; k < depth; k++) {
        V w[Q * L];
        IG_UNROLL for (size_t q = 0; q < Q; q++)
            IG_UNROLL for (size_t l = 0; l < L; l++) w[q * L + l] = loadV<V>(P + q * panelStride + k * kPanel + l * W);
        IG_UNROLL for (size_t r = 0; r < R; r++) {
            const float a = A[r * lda + k];
            IG_UNROLL for (size_t i = 0; i < Q * L; i++) acc[r][i] += a * w[i];
        }
    }
    IG_UNROLL for (size_t r = 0; r < R; r++)
        IG_UNROLL for (size_t q = 0; q < Q; q++)
            IG_UNROLL for (size_t l = 0; l < L; l++) storeV<V>(C + r * ldc + q * kPanel + l * W, acc[r][q * L + l]);
}

// exp(x) without libm calls, so the activation loops run as SIMD code (libm's expf and tanhf
// are scalar calls and cost more than a small layer's matrix product).
// Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then the Cephes degree-6 polynomial:
// relative error about 1e-7. Inputs are clamped to [-87, 88], so results stay finite and normal.
template <typename V>
IG_ALWAYS_INLINE V fastExp(V x) {
    using VI = decltype(x < x);  // the matching int32 vector
    const V lo = splat<V>(-87.0f), hi = splat<V>(88.0f);
    x = blend(x < lo, lo, x);
    x = blend(x > hi, hi, x);
    // Round x*log2(e) to nearest with the 1.5*2^23 trick (exact in round-to-nearest mode).
    const float shifter = 12582912.0f;
    const V n = (x * 1.44269504088896341f + shifter) - shifter;
    V r = x - n * 0.693359375f;  // ln2 split into a part exact in float and a small remainder
    r = r - n * -2.12194440e-4f;
    V p = splat<V>(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const V e = p * r * r + r + 1.0f;
    // Scale by 2^n by building the floats' exponent bits directly.
    const VI bits = (__builtin_convertvector(n, VI) + 127) << 23;
    V scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

// Activation over a contiguous run of n floats (n a multiple of kPanel: rows are padded).
// tanh(u) = 1 - 2 / (1 + e^{2u}); GELU's 0.5 x (1 + tanh(u)) is the same as x / (1 + e^{-2u}).
template <typename V, Activation Act>
IG_ALWAYS_INLINE void activateRun(float* v, size_t n) {
    const V zero = {};
    for (size_t i = 0; i < n; i += kLanes<V>) {
        V x = loadV<V>(v + i);
        if constexpr (Act == Activation::Relu) {
            x = blend(x > zero, x, zero);
        } else if constexpr (Act == Activation::Tanh) {
            x = 1.0f - 2.0f / (1.0f + fastExp(2.0f * x));
        } else if constexpr (Act == Activation::Gelu) {
            const V u = 0.7978845608028654f * (x + 0.044715f * x * x * x);  // sqrt(2/pi) (x + 0.044715 x^3)
            x = x / (1.0f + fastExp(-2.0f * u));
        } else {
            x = x / (1.0f + fastExp(-x));
        }
        storeV<V>(v + i, x);
    }
}
#else
// Portable scalar fallback (e.g. MSVC): plain loops and libm.
struct Vec8 {
    float f[8];
};

template <typename V>
constexpr size_t kLanes = kPanel;

template <typename V, size_t R, size_t Q>
IG_ALWAYS_INLINE void microTile(const float* A, size_t lda, const float* P, size_t panelStride, size_t depth, float* C,
                                size_t ldc) {
    for (size_t r = 0; r < R; r++) {
        for (size_t q = 0; q < Q; q++) {
            float acc[kPanel];
            for (size_t j = 0; j < kPanel; j++) acc[j] = C[r * ldc + q * kPanel + j];
            for (size_t k = 0; k < depth; k++) {
                const float a = A[r * lda + k];
                const float* w = P + q * panelStride + k * kPanel;
                for (size_t j = 0; j < kPanel; j++) acc[j] += a * w[j];
            }
            for (size_t j = 0; j < kPanel; j++) C[r * ldc + q * kPanel + j] = acc[j];
        }
    }
}

template <typename V, Activation Act>
IG_ALWAYS_INLINE void activateRun(float* v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float x = v[i];
        if constexpr (Act == Activation::Relu) {
            v[i] = x > 0.0f ? x : 0.0f;
        } else if constexpr (Act == Activation::Tanh) {
            v[i] = std::tanh(x);
        } else if constexpr (Act == Activation::Gelu) {
            v[i] = 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        } else {
            v[i] = x / (1.0f + std::exp(-x));
        }
    }
}
#endif

// R rows across all panels, Q panels at a time (then one at a time for the remainder).
template <typename V, size_t R, size_t Q>
IG_ALWAYS_INLINE void rowStrip(const float* A, size_t lda, const float* panels, size_t panelStride, size_t nPanels,
                               size_t depth, float* C, size_t ldc) {
    size_t p = 0;
    for (; p + Q <= nPanels; p += Q) microTile<V, R, Q>(A, lda, panels + p * panelStride, panelStride, depth, C + p * kPanel, ldc);
    for (; p < nPanels; p++) microTile<V, R, 1>(A, lda, panels + p * panelStride, panelStride, depth, C + p * kPanel, ldc);
}

// The last `left` (< kRowTile) rows of a block: fewer rows, so widen the tile across panels to
// keep about `Budget` accumulator registers busy (this is what makes a 1-row call fast).
template <typename V, size_t Budget, size_t R>
IG_ALWAYS_INLINE void tailStrip(size_t left, const float* A, size_t lda, const float* panels, size_t panelStride,
                                size_t nPanels, size_t depth, float* C, size_t ldc) {
    if constexpr (R > 0) {
        constexpr size_t L = kPanel / kLanes<V>;
        if (left == R) rowStrip<V, R, clampQ(Budget / (R * L))>(A, lda, panels, panelStride, nPanels, depth, C, ldc);
        else tailStrip<V, Budget, R - 1>(left, A, lda, panels, panelStride, nPanels, depth, C, ldc);
    }
}

// C[rows][outPad] += A[rows][depth] * W^T over one depth slice. `panels` points at this slice's
// start in panel 0; consecutive panels are `panelStride` floats apart. Budget is how many vector
// accumulators fit in the 16 SIMD registers next to the operands.
template <typename V, size_t Budget>
IG_ALWAYS_INLINE void gemmSliceImpl(const float* A, size_t lda, size_t rows, size_t depth, const float* panels,
                                    size_t panelStride, size_t nPanels, float* C, size_t ldc) {
    constexpr size_t Q = clampQ(Budget / (kRowTile * (kPanel / kLanes<V>)));
    const size_t full = rows / kRowTile * kRowTile;
    // Panel-outer order: Q panel slices (depth x 8 floats each) stay in L1 across all row tiles.
    size_t p = 0;
    for (; p + Q <= nPanels; p += Q) {
        for (size_t r = 0; r < full; r += kRowTile) {
            microTile<V, kRowTile, Q>(A + r * lda, lda, panels + p * panelStride, panelStride, depth, C + r * ldc + p * kPanel, ldc);
        }
    }
    for (; p < nPanels; p++) {
        for (size_t r = 0; r < full; r += kRowTile) {
            microTile<V, kRowTile, 1>(A + r * lda, lda, panels + p * panelStride, panelStride, depth, C + r * ldc + p * kPanel, ldc);
        }
    }
    if (full < rows) {
        tailStrip<V, Budget, kRowTile - 1>(rows - full, A + full * lda, lda, panels, panelStride, nPanels, depth, C + full * ldc, ldc);
    }
}

// Applies the activation to the first `width` (a multiple of kPanel) floats of each row.
template <typename V>
IG_ALWAYS_INLINE void activateRowsImpl(Activation act, float* data, size_t rows, size_t width, size_t ld) {
    for (size_t r = 0; r < rows; r++) {
        float* row = data + r * ld;
        switch (act) {
            case Activation::Relu: activateRun<V, Activation::Relu>(row, width); break;
            case Activation::Tanh: activateRun<V, Activation::Tanh>(row, width); break;
            case Activation::Gelu: activateRun<V, Activation::Gelu>(row, width); break;
            case Activation::Silu: activateRun<V, Activation::Silu>(row, width); break;
        }
    }
}

// The hot loops, compiled twice: for the baseline target (SSE2 / NEON: 16-byte vectors) and, on
// x86-64, for AVX2+FMA (32-byte vectors), picked at run time. Everything they call is
// always_inline, so it is compiled for the same target.
#ifdef IG_VECTOR_EXT
using BaseVec = Vec4;
#else
using BaseVec = Vec8;
#endif

void gemmSliceBase(const float* A, size_t lda, size_t rows, size_t depth, const float* panels, size_t panelStride,
                   size_t nPanels, float* C, size_t ldc) {
    gemmSliceImpl<BaseVec, 12>(A, lda, rows, depth, panels, panelStride, nPanels, C, ldc);
}

void activateRowsBase(Activation act, float* data, size_t rows, size_t width, size_t ld) {
    activateRowsImpl<BaseVec>(act, data, rows, width, ld);
}

#ifdef IG_AVX2_KERNEL
__attribute__((target("avx2,fma"))) void gemmSliceAvx2(const float* A, size_t lda, size_t rows, size_t depth,
                                                        const float* panels, size_t panelStride, size_t nPanels,
                                                        float* C, size_t ldc) {
    gemmSliceImpl<Vec8, 12>(A, lda, rows, depth, panels, panelStride, nPanels, C, ldc);
}

__attribute__((target("avx2,fma"))) void activateRowsAvx2(Activation act, float* data, size_t rows, size_t width,
                                                           size_t ld) {
    activateRowsImpl<Vec8>(act, data, rows, width, ld);
}
#endif

struct Kernels {
    void (*gemmSlice)(const float* A, size_t lda, size_t rows, size_t depth, const float* panels, size_t panelStride,
                      size_t nPanels, float* C, size_t ldc);
    void (*activateRows)(Activation act, float* data, size_t rows, size_t width, size_t ld);
};

Kernels pickKernels() {
#ifdef IG_AVX2_KERNEL
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {gemmSliceAvx2, activateRowsAvx2};
#endif
    return {gemmSliceBase, activateRowsBase};
}

// Numerically stable logistic: never evaluates exp of a large positive number.
float sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
}

bool parseActivation(const std::string& name, Activation& out) {
    if (name == "relu") out = Activation::Relu;
    else if (name == "tanh") out = Activation::Tanh;
    else if (name == "gelu") out = Activation::Gelu;
    else if (name == "silu") out = Activation::Silu;
    else return false;
    return true;
}

// Reads a non-negative integer option; `what` names it in error messages.
size_t readCount(Napi::Env env, const Napi::Value& v, const std::string& what, double minValue, double maxValue) {
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "CriticNet: " + what + " must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || d < minValue || d > maxValue) {
        throw Napi::RangeError::New(env, "CriticNet: " + what + " must be an integer in [" + std::to_string(static_cast<long long>(minValue)) +
                                             ", " + std::to_string(static_cast<long long>(maxValue)) + "], got " +
                                             v.ToString().Utf8Value());
    }
    return static_cast<size_t>(d);
}

Napi::Float32Array readF32(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw Napi::TypeError::New(env, what + " must be a Float32Array");
    }
    return v.As<Napi::Float32Array>();
}

bool overlaps(const Napi::Float32Array& a, size_t na, const Napi::Float32Array& b, size_t nb) {
    if (na == 0 || nb == 0) return false;
    const float* pa = a.Data();
    const float* pb = b.Data();
    return pa < pb + nb && pb < pa + na;
}

class CriticNet : public Napi::ObjectWrap<CriticNet> {
public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "CriticNet",
                           {InstanceMethod<&CriticNet::Forward>("forward"),
                            InstanceAccessor<&CriticNet::InputDim>("inputDim")});
    }

    explicit CriticNet(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CriticNet>(info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsObject()) {
            throw Napi::TypeError::New(env, "CriticNet: expected an options object {inputDim, hidden, activation, weights, mean?, std?}");
        }
        Napi::Object opts = info[0].As<Napi::Object>();

        inputDim_ = readCount(env, opts.Get("inputDim"), "inputDim", 2, 1 << 24);
        nEmbd_ = inputDim_ - 1;

        Napi::Value hiddenV = opts.Get("hidden");
        if (!hiddenV.IsArray()) throw Napi::TypeError::New(env, "CriticNet: hidden must be an array of layer sizes");
        Napi::Array hiddenA = hiddenV.As<Napi::Array>();
        std::vector<size_t> sizes{inputDim_};
        for (uint32_t i = 0; i < hiddenA.Length(); i++) {
            sizes.push_back(readCount(env, hiddenA.Get(i), "hidden[" + std::to_string(i) + "]", 1, 1 << 16));
        }
        sizes.push_back(2);  // head: safety logit, value

        Napi::Value actV = opts.Get("activation");
        if (!actV.IsString()) throw Napi::TypeError::New(env, "CriticNet: activation must be a string");
        const std::string actName = actV.As<Napi::String>().Utf8Value();
        if (!parseActivation(actName, act_)) {
            throw Napi::RangeError::New(env, "CriticNet: unknown activation \"" + actName + "\" (expected relu, tanh, gelu or silu)");
        }

        size_t expected = 0;
        for (size_t l = 0; l + 1 < sizes.size(); l++) expected += sizes[l] * sizes[l + 1] + sizes[l + 1];
        Napi::Float32Array weights = readF32(env, opts.Get("weights"), "CriticNet: weights");
        if (weights.ElementLength() != expected) {
            throw Napi::RangeError::New(env, "CriticNet: weights has " + std::to_string(weights.ElementLength()) +
                                                 " floats, the layer sizes need " + std::to_string(expected));
        }

        // Normalisation is optional but needs both vectors.
        Napi::Value meanV = opts.Get("mean"), stdV = opts.Get("std");
        const bool hasMean = !meanV.IsUndefined() && !meanV.IsNull();
        const bool hasStd = !stdV.IsUndefined() && !stdV.IsNull();
        if (hasMean != hasStd) throw Napi::TypeError::New(env, "CriticNet: mean and std must be given together");
        if (hasMean) {
            Napi::Float32Array mean = readF32(env, meanV, "CriticNet: mean");
            Napi::Float32Array stdev = readF32(env, stdV, "CriticNet: std");
            if (mean.ElementLength() != inputDim_ || stdev.ElementLength() != inputDim_) {
                throw Napi::RangeError::New(env, "CriticNet: mean and std must have inputDim (" + std::to_string(inputDim_) + ") floats, got " +
                                                     std::to_string(mean.ElementLength()) + " and " + std::to_string(stdev.ElementLength()));
            }
            mean_ = allocFloats(inputDim_);
            std_ = allocFloats(inputDim_);
            for (size_t i = 0; i < inputDim_; i++) {
                if (!(stdev[i] > 0.0f) || !std::isfinite(stdev[i])) {
                    throw Napi::RangeError::New(env, "CriticNet: std[" + std::to_string(i) + "] must be positive and finite");
                }
                mean_[i] = mean[i];
                std_[i] = stdev[i];
            }
        }

        // maxBatch is accepted for API symmetry: scratch is sized per row block (kBlockRows), so a
        // forward call of any batch size never allocates and nothing needs to grow.
        Napi::Value maxBatchV = opts.Get("maxBatch");
        if (!maxBatchV.IsUndefined() && !maxBatchV.IsNull()) readCount(env, maxBatchV, "maxBatch", 1, 1 << 30);

        // Copy and repack the weights once; the caller's array is not referenced afterwards.
        const float* src = weights.Data();
        size_t widest = 0;
        for (size_t l = 0; l + 1 < sizes.size(); l++) {
            Layer layer;
            layer.in = sizes[l];
            layer.out = sizes[l + 1];
            layer.outPad = roundUp(layer.out, kPanel);
            layer.panels = allocFloats(layer.outPad * layer.in);
            layer.bias = allocFloats(layer.outPad);
            const float* W = src;
            const float* b = src + layer.in * layer.out;
            for (size_t o = 0; o < layer.out; o++) {
                float* panel = layer.panels.get() + (o / kPanel) * layer.in * kPanel;
                for (size_t k = 0; k < layer.in; k++) panel[k * kPanel + o % kPanel] = W[o * layer.in + k];
                layer.bias[o] = b[o];
            }
            src += layer.in * layer.out + layer.out;
            widest = std::max(widest, layer.outPad);
            layers_.push_back(std::move(layer));
        }
        ldAct_ = widest;
        packed_ = allocFloats(kBlockRows * kDepth);
        actA_ = allocFloats(kBlockRows * ldAct_);
        actB_ = allocFloats(kBlockRows * ldAct_);
    }

private:
    Napi::Value InputDim(const Napi::CallbackInfo& info) {
        return Napi::Number::New(info.Env(), static_cast<double>(inputDim_));
    }

    // forward(hidden: Float32Array (rows*nEmbd), z: Float32Array (rows), rows,
    //         outSafety: Float32Array (rows), outValue: Float32Array (rows)): void
    // Arrays may be longer than needed (reused buffers); only the first rows (x nEmbd) are used.
    void Forward(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() != 5) {
            throw Napi::TypeError::New(env, "CriticNet.forward(hidden, z, rows, outSafety, outValue): expected 5 arguments, got " +
                                                std::to_string(info.Length()));
        }
        Napi::Float32Array hidden = readF32(env, info[0], "CriticNet.forward: hidden");
        Napi::Float32Array z = readF32(env, info[1], "CriticNet.forward: z");
        if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "CriticNet.forward: rows must be a number");
        const double rowsD = info[2].As<Napi::Number>().DoubleValue();
        if (!std::isfinite(rowsD) || std::floor(rowsD) != rowsD || rowsD < 0 || rowsD > 2147483647.0) {
            throw Napi::RangeError::New(env, "CriticNet.forward: rows must be a non-negative integer, got " + info[2].ToString().Utf8Value());
        }
        const size_t rows = static_cast<size_t>(rowsD);
        Napi::Float32Array outSafety = readF32(env, info[3], "CriticNet.forward: outSafety");
        Napi::Float32Array outValue = readF32(env, info[4], "CriticNet.forward: outValue");

        auto tooShort = [&](const char* name, size_t have, size_t need, const std::string& expl) {
            throw Napi::RangeError::New(env, std::string("CriticNet.forward: ") + name + " has " + std::to_string(have) + " floats, needs at least " +
                                                 std::to_string(need) + " (" + expl + ")");
        };
        const size_t needHidden = rows * nEmbd_;
        if (hidden.ElementLength() < needHidden) {
            tooShort("hidden", hidden.ElementLength(), needHidden, "rows x nEmbd = " + std::to_string(rows) + " x " + std::to_string(nEmbd_));
        }
        if (z.ElementLength() < rows) tooShort("z", z.ElementLength(), rows, "one per row");
        if (outSafety.ElementLength() < rows) tooShort("outSafety", outSafety.ElementLength(), rows, "one per row");
        if (outValue.ElementLength() < rows) tooShort("outValue", outValue.ElementLength(), rows, "one per row");
        // Outputs are written block by block, so they must not alias each other or the inputs.
        if (overlaps(outSafety, rows, outValue, rows) || overlaps(outSafety, rows, hidden, needHidden) ||
            overlaps(outSafety, rows, z, rows) || overlaps(outValue, rows, hidden, needHidden) || overlaps(outValue, rows, z, rows)) {
            throw Napi::RangeError::New(env, "CriticNet.forward: outSafety and outValue must not overlap each other or the inputs");
        }

        for (size_t row0 = 0; row0 < rows; row0 += kBlockRows) {
            const size_t n = std::min(kBlockRows, rows - row0);
            forwardBlock(hidden.Data() + row0 * nEmbd_, z.Data() + row0, n, outSafety.Data() + row0, outValue.Data() + row0);
        }
    }

    // Pushes n <= kBlockRows rows through every layer.
    void forwardBlock(const float* h, const float* z, size_t n, float* outSafety, float* outValue) {
        float* cur = actA_.get();
        float* next = actB_.get();
        const float* mean = mean_.get();
        const float* stdev = std_.get();

        for (size_t l = 0; l < layers_.size(); l++) {
            const Layer& layer = layers_[l];
            for (size_t r = 0; r < n; r++) std::memcpy(next + r * ldAct_, layer.bias.get(), layer.outPad * sizeof(float));
            const size_t panelStride = layer.in * kPanel;
            const size_t nPanels = layer.outPad / kPanel;
            for (size_t k0 = 0; k0 < layer.in; k0 += kDepth) {
                const size_t depth = std::min(kDepth, layer.in - k0);
                const float* A;
                size_t lda;
                if (l == 0) {
                    // Gather this depth slice of [h, z] (normalised if requested) into a dense tile
                    // once, so every panel below reads it from cache.
                    float* dst = packed_.get();
                    const size_t hEnd = std::min(k0 + depth, nEmbd_);
                    for (size_t r = 0; r < n; r++) {
                        float* row = dst + r * kDepth;
                        const float* hr = h + r * nEmbd_;
                        size_t k = k0;
                        if (mean) {
                            for (; k < hEnd; k++) row[k - k0] = (hr[k] - mean[k]) / stdev[k];
                        } else {
                            for (; k < hEnd; k++) row[k - k0] = hr[k];
                        }
                        if (k < k0 + depth) row[k - k0] = mean ? (z[r] - mean[k]) / stdev[k] : z[r];  // k == nEmbd
                    }
                    A = dst;
                    lda = kDepth;
                } else {
                    A = cur + k0;
                    lda = ldAct_;
                }
                kernels_.gemmSlice(A, lda, n, depth, layer.panels.get() + k0 * kPanel, panelStride, nPanels, next, ldAct_);
            }
            const bool head = l + 1 == layers_.size();
            if (!head) {
                kernels_.activateRows(act_, next, n, layer.outPad, ldAct_);
            }
            std::swap(cur, next);
        }
        for (size_t r = 0; r < n; r++) {
            outSafety[r] = sigmoid(cur[r * ldAct_ + 0]);
            outValue[r] = cur[r * ldAct_ + 1];
        }
    }

    size_t inputDim_ = 0, nEmbd_ = 0, ldAct_ = 0;
    Activation act_ = Activation::Relu;
    Kernels kernels_ = pickKernels();
    std::vector<Layer> layers_;
    AlignedFloats mean_, std_;
    AlignedFloats packed_;      // kBlockRows x kDepth: the current input slice of layer 0
    AlignedFloats actA_, actB_;  // kBlockRows x ldAct_: ping-pong activations
};

}  // namespace

void InitCritic(Napi::Env env, Napi::Object exports) {
    exports.Set("CriticNet", CriticNet::Define(env));
}
