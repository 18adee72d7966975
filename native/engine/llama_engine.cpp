// BatchContext: a llama.cpp context of our own on a model that node-llama-cpp loaded.
// One llama_decode extends every live beam by one token; each beam's logits and last-layer
// hidden state are read from its own batch row of that same forward pass. The KV cache is
// unified so forking a beam (llama_memory_seq_cp) shares its prefix cells instead of copying them.
#include <napi.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "llama_api.h"
#include "sampling.h"

namespace {

class BatchContext : public Napi::ObjectWrap<BatchContext> {
public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "BatchContext", {
            InstanceMethod<&BatchContext::Info>("info"),
            InstanceMethod<&BatchContext::Decode>("decode"),
            InstanceMethod<&BatchContext::ReadHidden>("readHidden"),
            InstanceMethod<&BatchContext::ReadLogits>("readLogits"),
            InstanceMethod<&BatchContext::Sample>("sample"),
            InstanceMethod<&BatchContext::SeqCopy>("seqCopy"),
            InstanceMethod<&BatchContext::SeqRemove>("seqRemove"),
            InstanceMethod<&BatchContext::Clear>("clear"),
            InstanceMethod<&BatchContext::Dispose>("dispose"),
        });
    }

    // new BatchContext(addonModel, {contextSize, batchSize, sequences, threads})
    explicit BatchContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BatchContext>(info) {
        Napi::Env env = info.Env();
        if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) {
            throw Napi::TypeError::New(env, "BatchContext(addonModel, options) expected");
        }
        const LlamaApi* api;
        try {
            api = &llamaApi();
        } catch (const std::exception& e) {
            throw Napi::Error::New(env, e.what());
        }
        api_ = api;
        model_ = unwrapAddonModel(env, info[0].As<Napi::Object>());
        modelRef_ = Napi::Persistent(info[0].As<Napi::Object>());

        const Napi::Object opts = info[1].As<Napi::Object>();
        auto u32 = [&](const char* key, uint32_t fallback) {
            return opts.Has(key) && opts.Get(key).IsNumber() ? opts.Get(key).As<Napi::Number>().Uint32Value() : fallback;
        };
        llama_context_params params = api_->context_default_params();
        params.n_ctx = u32("contextSize", 4096);
        params.n_batch = u32("batchSize", 512);
        params.n_ubatch = params.n_batch;
        params.n_seq_max = u32("sequences", 1);
        params.n_threads = static_cast<int32_t>(u32("threads", 1));
        params.n_threads_batch = params.n_threads;
        params.embeddings = true;  // keep the last-layer hidden state of every output row
        params.pooling_type = LLAMA_POOLING_TYPE_NONE;
        params.kv_unified = true;  // forks share prefix cells; no per-sequence KV copies
        params.no_perf = true;
        if (opts.Has("flashAttention") && opts.Get("flashAttention").IsString()) {
            const std::string fa = opts.Get("flashAttention").As<Napi::String>().Utf8Value();
            params.flash_attn_type = fa == "on" ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                                   : fa == "off" ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_AUTO;
        }
        if (opts.Has("kvCacheType") && opts.Get("kvCacheType").IsString()) {
            // f32 avoids per-step f16 conversions, which dominate on tiny models; f16 halves memory on big ones.
            const bool f32 = opts.Get("kvCacheType").As<Napi::String>().Utf8Value() == "f32";
            params.type_k = f32 ? GGML_TYPE_F32 : GGML_TYPE_F16;
            params.type_v = params.type_k;
        }
        ctx_ = api_->init_from_model(model_, params);
        if (ctx_ == nullptr) {
            throw Napi::Error::New(env, "llama.cpp could not create a context (out of memory, or unsupported settings)");
        }
        nBatch_ = params.n_batch;
        batch_ = api_->batch_init(static_cast<int32_t>(nBatch_), 0, 1);
        hasBatch_ = true;
        nVocab_ = api_->vocab_n_tokens(api_->model_get_vocab(model_));
        nEmbd_ = api_->model_n_embd(model_);
        outputRow_.assign(nBatch_, 0);
    }

    ~BatchContext() override { release(); }

private:
    void release() {
        if (hasBatch_) {
            api_->batch_free(batch_);
            hasBatch_ = false;
        }
        if (ctx_ != nullptr) {
            api_->free(ctx_);
            ctx_ = nullptr;
        }
        if (!modelRef_.IsEmpty()) modelRef_.Reset();
    }

    void requireLive(Napi::Env env) const {
        if (ctx_ == nullptr) throw Napi::Error::New(env, "BatchContext is disposed");
    }

    Napi::Value Info(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        Napi::Object out = Napi::Object::New(env);
        out.Set("nVocab", nVocab_);
        out.Set("nEmbd", nEmbd_);
        out.Set("nCtx", api_->n_ctx(ctx_));
        out.Set("nSeqMax", api_->n_seq_max(ctx_));
        out.Set("nBatch", nBatch_);
        out.Set("nCtxTrain", api_->model_n_ctx_train(model_));
        out.Set("library", llamaLibraryPath());
        return out;
    }

    // decode(tokens: Int32Array, positions: Int32Array, seqIds: Int32Array, wantOutput: Uint8Array)
    void Decode(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        auto tokens = info[0].As<Napi::Int32Array>();
        auto positions = info[1].As<Napi::Int32Array>();
        auto seqIds = info[2].As<Napi::Int32Array>();
        auto wantOutput = info[3].As<Napi::Uint8Array>();
        const size_t n = tokens.ElementLength();
        if (n == 0 || n > nBatch_ || positions.ElementLength() != n || seqIds.ElementLength() != n ||
            wantOutput.ElementLength() != n) {
            throw Napi::RangeError::New(env, "decode: arrays must have the same length, between 1 and the batch size");
        }
        const uint32_t nSeq = api_->n_seq_max(ctx_);
        batch_.n_tokens = static_cast<int32_t>(n);
        for (size_t i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= nVocab_) throw Napi::RangeError::New(env, "decode: token id out of range");
            if (seqIds[i] < 0 || static_cast<uint32_t>(seqIds[i]) >= nSeq) throw Napi::RangeError::New(env, "decode: sequence id out of range");
            batch_.token[i] = tokens[i];
            batch_.pos[i] = positions[i];
            batch_.n_seq_id[i] = 1;
            batch_.seq_id[i][0] = seqIds[i];
            batch_.logits[i] = wantOutput[i] != 0;
            outputRow_[i] = wantOutput[i] != 0;
        }
        decodedTokens_ = n;
        const int32_t rc = api_->decode(ctx_, batch_);
        if (rc != 0) {
            decodedTokens_ = 0;
            const std::string why = rc == 1 ? "the context is full (no KV cache slot): raise contextSize" : "llama_decode failed with code " + std::to_string(rc);
            throw Napi::Error::New(env, why);
        }
    }

    int32_t checkedRow(Napi::Env env, int32_t row) const {
        if (row < 0 || static_cast<size_t>(row) >= decodedTokens_ || !outputRow_[row]) {
            throw Napi::RangeError::New(env, "batch row " + std::to_string(row) + " has no output in the last decode");
        }
        return row;
    }

    // readHidden(rows: Int32Array, out: Float32Array) — out receives rows.length * nEmbd floats.
    void ReadHidden(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        auto rows = info[0].As<Napi::Int32Array>();
        auto out = info[1].As<Napi::Float32Array>();
        const size_t n = rows.ElementLength();
        if (out.ElementLength() < n * static_cast<size_t>(nEmbd_)) throw Napi::RangeError::New(env, "readHidden: output too small");
        for (size_t r = 0; r < n; r++) {
            const float* h = api_->get_embeddings_ith(ctx_, checkedRow(env, rows[r]));
            if (h == nullptr) throw Napi::Error::New(env, "llama.cpp returned no hidden state for a batch row");
            std::memcpy(out.Data() + r * nEmbd_, h, sizeof(float) * nEmbd_);
        }
    }

    // readLogits(row: number, out: Float32Array(nVocab))
    void ReadLogits(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        const int32_t row = checkedRow(env, info[0].As<Napi::Number>().Int32Value());
        auto out = info[1].As<Napi::Float32Array>();
        if (out.ElementLength() < static_cast<size_t>(nVocab_)) throw Napi::RangeError::New(env, "readLogits: output too small");
        const float* logits = api_->get_logits_ith(ctx_, row);
        if (logits == nullptr) throw Napi::Error::New(env, "llama.cpp returned no logits for a batch row");
        std::memcpy(out.Data(), logits, sizeof(float) * nVocab_);
    }

    // sample(rows: Int32Array, params: {temperature, topK, topP}, seedHi: number, seedLo: number,
    //        biasRowPtr: Int32Array|null, biasTokens: Int32Array|null, biasValues: Float32Array|null,
    //        outTokens: Int32Array, outLogProbs: Float32Array)
    // Row r's bias is the slice biasRowPtr[r]..biasRowPtr[r+1] of biasTokens/biasValues.
    void Sample(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        auto rows = info[0].As<Napi::Int32Array>();
        const Napi::Object p = info[1].As<Napi::Object>();
        SampleParams params;
        params.temperature = p.Get("temperature").As<Napi::Number>().FloatValue();
        params.topK = p.Get("topK").As<Napi::Number>().Int32Value();
        params.topP = p.Get("topP").As<Napi::Number>().FloatValue();
        const uint64_t seed = (static_cast<uint64_t>(info[2].As<Napi::Number>().Uint32Value()) << 32) |
                              info[3].As<Napi::Number>().Uint32Value();
        const bool hasBias = info[4].IsTypedArray();
        Napi::Int32Array rowPtr, biasTokens;
        Napi::Float32Array biasValues;
        const size_t n = rows.ElementLength();
        if (hasBias) {
            rowPtr = info[4].As<Napi::Int32Array>();
            biasTokens = info[5].As<Napi::Int32Array>();
            biasValues = info[6].As<Napi::Float32Array>();
            if (rowPtr.ElementLength() != n + 1 || biasTokens.ElementLength() != biasValues.ElementLength() ||
                static_cast<size_t>(rowPtr[n]) > biasTokens.ElementLength()) {
                throw Napi::RangeError::New(env, "sample: malformed bias arrays");
            }
        }
        auto outTokens = info[7].As<Napi::Int32Array>();
        auto outLogProbs = info[8].As<Napi::Float32Array>();
        if (outTokens.ElementLength() < n || outLogProbs.ElementLength() < n) throw Napi::RangeError::New(env, "sample: output too small");
        for (size_t r = 0; r < n; r++) {
            const int32_t row = checkedRow(env, rows[r]);
            const float* logits = api_->get_logits_ith(ctx_, row);
            if (logits == nullptr) throw Napi::Error::New(env, "llama.cpp returned no logits for a batch row");
            const int32_t* bt = nullptr;
            const float* bv = nullptr;
            int32_t nb = 0;
            if (hasBias) {
                bt = biasTokens.Data() + rowPtr[r];
                bv = biasValues.Data() + rowPtr[r];
                nb = rowPtr[r + 1] - rowPtr[r];
            }
            const SampleResult s = sampleRow(logits, nVocab_, params, bt, bv, nb, uniformFor(seed, r), scratch_, order_);
            outTokens[r] = s.token;
            outLogProbs[r] = s.baseLogProb;
        }
    }

    void SeqCopy(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        const int32_t src = info[0].As<Napi::Number>().Int32Value();
        const int32_t dst = info[1].As<Napi::Number>().Int32Value();
        checkSeq(env, src);
        checkSeq(env, dst);
        llama_memory_t mem = api_->get_memory(ctx_);
        api_->memory_seq_rm(mem, dst, -1, -1);
        api_->memory_seq_cp(mem, src, dst, -1, -1);
    }

    // seqRemove(seq, p0, p1): drop positions [p0, p1) of seq (-1 = open end).
    Napi::Value SeqRemove(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        requireLive(env);
        const int32_t seq = info[0].As<Napi::Number>().Int32Value();
        checkSeq(env, seq);
        const bool ok = api_->memory_seq_rm(api_->get_memory(ctx_), seq, info[1].As<Napi::Number>().Int32Value(),
                                            info[2].As<Napi::Number>().Int32Value());
        return Napi::Boolean::New(env, ok);
    }

    void Clear(const Napi::CallbackInfo& info) {
        requireLive(info.Env());
        api_->memory_clear(api_->get_memory(ctx_), true);
        decodedTokens_ = 0;
    }

    void Dispose(const Napi::CallbackInfo&) { release(); }

    void checkSeq(Napi::Env env, int32_t seq) const {
        if (seq < 0 || static_cast<uint32_t>(seq) >= api_->n_seq_max(ctx_)) throw Napi::RangeError::New(env, "sequence id out of range");
    }

    const LlamaApi* api_ = nullptr;
    Napi::ObjectReference modelRef_;  // keeps node-llama-cpp's model object alive while we use it
    llama_model* model_ = nullptr;
    llama_context* ctx_ = nullptr;
    llama_batch batch_{};
    bool hasBatch_ = false;
    uint32_t nBatch_ = 0;
    int32_t nVocab_ = 0;
    int32_t nEmbd_ = 0;
    size_t decodedTokens_ = 0;
    std::vector<uint8_t> outputRow_;
    std::vector<float> scratch_;
    std::vector<int32_t> order_;
};

// sampleLogits(logits: Float32Array, params, seedHi, seedLo, row, biasTokens|null, biasValues|null)
// -> {token, baseLogProb}: the sampler on a synthetic row, for tests.
Napi::Value SampleLogits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto logits = info[0].As<Napi::Float32Array>();
    const Napi::Object p = info[1].As<Napi::Object>();
    SampleParams params;
    params.temperature = p.Get("temperature").As<Napi::Number>().FloatValue();
    params.topK = p.Get("topK").As<Napi::Number>().Int32Value();
    params.topP = p.Get("topP").As<Napi::Number>().FloatValue();
    const uint64_t seed = (static_cast<uint64_t>(info[2].As<Napi::Number>().Uint32Value()) << 32) |
                          info[3].As<Napi::Number>().Uint32Value();
    const uint32_t row = info[4].As<Napi::Number>().Uint32Value();
    const int32_t* bt = nullptr;
    const float* bv = nullptr;
    int32_t nb = 0;
    if (info.Length() > 6 && info[5].IsTypedArray() && info[6].IsTypedArray()) {
        auto t = info[5].As<Napi::Int32Array>();
        auto v = info[6].As<Napi::Float32Array>();
        if (t.ElementLength() != v.ElementLength()) throw Napi::RangeError::New(env, "bias arrays differ in length");
        bt = t.Data();
        bv = v.Data();
        nb = static_cast<int32_t>(t.ElementLength());
    }
    std::vector<float> scratch;
    std::vector<int32_t> order;
    const SampleResult s = sampleRow(logits.Data(), static_cast<int32_t>(logits.ElementLength()), params, bt, bv, nb,
                                     uniformFor(seed, row), scratch, order);
    Napi::Object out = Napi::Object::New(env);
    out.Set("token", s.token);
    out.Set("baseLogProb", s.baseLogProb);
    return out;
}

}  // namespace

void InitLlamaEngine(Napi::Env env, Napi::Object exports) {
    exports.Set("BatchContext", BatchContext::Define(env));
    exports.Set("sampleLogits", Napi::Function::New(env, SampleLogits));
    exports.Set("NODE_LLAMA_CPP_BUILD_VERSION", Napi::String::New(env, nodeLlamaCppBuildVersion()));
}
