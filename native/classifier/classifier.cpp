// The text classifier behind the "classifier" cost model: hashed n-gram features + logistic
// regression, with feature extraction, scoring and training all here so that training and scoring
// can never disagree on what a text's features are.
//
// Exported to JS (typed in src/native.ts):
//   classifierFeatures(options, bytes) -> Int32Array   (sign * (bucket + 1) per occurrence; tests/debug)
//   new TextClassifier({ ...features, weights: Float32Array(buckets), bias, scale?, shift? })
//     .score(bytes, offsets, count, outProb, outCount?)
//   new ClassifierTrainer({ ...features, lr, l2, batchSize, seed })
//     .addExamples(bytes, offsets, count, labels, weights)  .run(batches) -> {loss, epoch, ...}
//     .predict(bytes, offsets, count, outLogit)  .weights(out) -> bias
//
// Texts cross the boundary as UTF-8 bytes in one buffer plus count+1 offsets, so a batch is one
// call and scoring allocates nothing.
//
// Features (version kFeatureVersion; any change to what follows must bump it, and model files
// record it, so an old model is refused rather than silently mis-scored):
//   * the text is decoded as UTF-8 (invalid bytes read as U+FFFD, a separator), lowercased
//     (ASCII, Latin-1, Latin Extended-A/Additional, Greek, Cyrillic, Armenian, fullwidth), and
//     ASCII digits fold to '0' (numbers generalise: a PID or a year is "a number");
//   * words are runs of letters, digits and combining marks; an apostrophe inside a word is dropped
//     ("can't" == "cant" == "can’t"); CJK ideographs, kana and Hangul syllables are one-character
//     words (those scripts do not separate words with spaces);
//   * per text it emits: each word (unigram), each pair and triple of adjacent words (when
//     wordNgrams >= 2, >= 3), and the character n-grams (charMin..charMax) of each word wrapped
//     in boundary markers, "<word>", fastText style (none when charMin is 0);
//   * every feature hashes (64-bit FNV-1a over code points, a char n-gram's read last to first;
//     a salt per feature kind and n-gram length, with the seed mixed in; splitmix64 finaliser) to
//     a bucket (low bits) and a sign (top bit): signed hashing makes collisions cancel on average
//     instead of piling up;
//   * an occurrence adds sign * value to its bucket, value 1 for word features and charWeight for
//     char n-grams (a word has ~3x as many n-grams as word features: a weight below 1 keeps the
//     n-grams from drowning the words);
//   * the text's vector is divided by sqrt(sum of value^2 over occurrences) (its L2 norm were no
//     two features to share a bucket), so a text's length changes the evidence's balance, not its
//     scale (a 3-word prefix and a 300-word answer score on the same footing).
// Score: logit = bias + dot(weights, x); P(unsafe) = sigmoid(scale * logit + shift) (scale 1 and
// shift 0 unless the model was trained with Platt calibration).
//
// Speed: ~700 feature occurrences for a 300-character text, each a few multiplies and one load
// from the weight table (1 MB at 2^18 buckets, L2-resident): ~10 us per text.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kFeatureVersion = 1;
constexpr uint32_t kMinBucketBits = 4;
constexpr uint32_t kMaxBucketBits = 26;
constexpr uint32_t kMaxCharN = 8;
constexpr uint32_t kMaxWordN = 3;

// Boundary markers of char n-grams: outside the Unicode range, so they equal no real character.
constexpr uint32_t kWordStart = 0x110000;
constexpr uint32_t kWordEnd = 0x110001;

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr uint64_t kSaltWord = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSaltBigram = 0xd1b54a32d192ed03ULL;
constexpr uint64_t kSaltTrigram = 0x8cb92ba72f3d8dd7ULL;
constexpr uint64_t kSaltChar = 0xa0761d6478bd642fULL;

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

inline uint64_t fnvStep(uint64_t h, uint32_t cp) { return (h ^ cp) * kFnvPrime; }

struct FeatureConfig {
    uint32_t bucketBits = 18;
    uint32_t wordNgrams = 2;  // 1: unigrams, 2: + bigrams, 3: + trigrams
    uint32_t charMin = 3;     // 0: no char n-grams
    uint32_t charMax = 5;
    float charWeight = 1.0f;  // value of a char n-gram occurrence (a word feature's is 1)
    uint64_t seed = 0;

    uint32_t buckets() const { return 1u << bucketBits; }
};

// ---- Unicode helpers (no tables beyond what fits in a few comparisons) ----

// Decodes one code point at p (< end); returns it and advances p. Invalid/overlong/surrogate
// sequences read as U+FFFD and consume one byte.
inline uint32_t decodeUtf8(const uint8_t*& p, const uint8_t* end) {
    const uint8_t c = *p;
    if (c < 0x80) {
        ++p;
        return c;
    }
    auto cont = [&](ptrdiff_t i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF && cont(1)) {
        const uint32_t cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
        p += 2;
        return cp;
    }
    if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
        const uint32_t cp = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
            p += 3;
            return cp;
        }
    } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
        const uint32_t cp = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
        if (cp >= 0x10000 && cp <= 0x10FFFF) {
            p += 4;
            return cp;
        }
    }
    ++p;
    return 0xFFFD;
}

// Simple (one-to-one) lowercase mapping for the scripts the training data uses.
inline uint32_t toLower(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp < 0x100) return (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ? cp + 32 : cp;
    if (cp < 0x180) {  // Latin Extended-A: mostly upper/lower pairs
        if (cp == 0x130) return 'i';
        if (cp == 0x178) return 0xFF;
        if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) return cp | 1u;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return (cp & 1u) ? cp + 1 : cp;
        return cp;
    }
    if (cp >= 0x370 && cp < 0x400) {  // Greek
        if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
        if (cp == 0x386) return 0x3AC;
        if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
        if (cp == 0x38C) return 0x3CC;
        if (cp == 0x38E || cp == 0x38F) return cp + 63;
        return cp;
    }
    if (cp >= 0x400 && cp < 0x530) {  // Cyrillic (+ Supplement)
        if (cp < 0x410) return cp + 80;
        if (cp < 0x430) return cp + 32;
        if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) || (cp >= 0x4D0 && cp <= 0x52F)) return cp | 1u;
        if (cp == 0x4C0) return 0x4CF;
        if (cp >= 0x4C1 && cp <= 0x4CE) return (cp & 1u) ? cp + 1 : cp;
        return cp;
    }
    if (cp >= 0x531 && cp <= 0x556) return cp + 48;  // Armenian
    if ((cp >= 0x1E00 && cp <= 0x1E95) || (cp >= 0x1EA0 && cp <= 0x1EFF)) return cp | 1u;  // Latin Ext. Additional
    if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;  // fullwidth A-Z
    return cp;
}

enum class CharClass : uint8_t { Separator, Word, Apostrophe, Ideograph };

inline CharClass classify(uint32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) return CharClass::Word;
        return cp == '\'' ? CharClass::Apostrophe : CharClass::Separator;
    }
    if (cp < 0xC0) return (cp == 0xAA || cp == 0xB5 || cp == 0xBA) ? CharClass::Word : CharClass::Separator;
    if (cp == 0xD7 || cp == 0xF7) return CharClass::Separator;
    if (cp == 0x2019 || cp == 0x02BC) return CharClass::Apostrophe;
    if (cp >= 0x2000 && cp <= 0x2BFF) return CharClass::Separator;  // punctuation, symbols, arrows, math, box
    if (cp >= 0x2E00 && cp <= 0x2E7F) return CharClass::Separator;  // supplemental punctuation
    if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
        (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF)) {
        return CharClass::Ideograph;
    }
    if (cp >= 0x3000 && cp <= 0x303F) return CharClass::Separator;  // CJK punctuation
    if (cp >= 0xD800 && cp <= 0xF8FF) return CharClass::Separator;  // surrogates, private use
    if (cp >= 0xFE00 && cp <= 0xFE0F) return CharClass::Separator;  // variation selectors
    if (cp >= 0xFE30 && cp <= 0xFE4F) return CharClass::Separator;  // CJK compatibility forms
    if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
        (cp >= 0xFF5B && cp <= 0xFF65)) {
        return CharClass::Separator;  // fullwidth punctuation
    }
    if (cp == 0xFFFD || cp == 0xFEFF) return CharClass::Separator;
    if (cp >= 0x1F000 && cp <= 0x1FAFF) return CharClass::Separator;  // emoji and pictographs
    if (cp >= 0xE0000) return CharClass::Separator;                   // tags, private use planes
    return CharClass::Word;
}

// ---- Feature extraction (streaming: no buffers, any text length) ----

// Walks a text and calls emit(bucket, value, isChar) for every feature occurrence (value is
// +-1 for word features, +-charWeight for char n-grams); returns how many, and sumSquares() the
// squared norm of the text's vector (with collisions ignored: sum of value^2).
class FeatureWalker {
public:
    explicit FeatureWalker(const FeatureConfig& cfg) : cfg_(cfg), mask_(cfg.buckets() - 1) {
        for (uint32_t n = 0; n <= kMaxCharN; n++) charSalt_[n] = mix64(cfg.seed ^ kSaltChar ^ (uint64_t(n) << 56));
        wordSalt_ = mix64(cfg.seed ^ kSaltWord);
        bigramSalt_ = mix64(cfg.seed ^ kSaltBigram);
        trigramSalt_ = mix64(cfg.seed ^ kSaltTrigram);
    }

    template <typename Emit>
    uint32_t walk(const uint8_t* p, const uint8_t* end, Emit&& emit) {
        count_ = 0;
        sumSquares_ = 0.0f;
        prev1_ = prev2_ = 0;
        havePrev_ = 0;
        inWord_ = false;
        while (p < end) {
            const uint32_t raw = decodeUtf8(p, end);
            const CharClass cls = classify(raw);
            if (cls == CharClass::Word) {
                uint32_t cp = toLower(raw);
                if (cp >= '0' && cp <= '9') cp = '0';
                if (!inWord_) beginWord(emit);
                pushChar(cp, emit);
            } else if (cls == CharClass::Apostrophe && inWord_) {
                // Dropped inside a word; a trailing one ends nothing (the next separator does).
            } else if (cls == CharClass::Ideograph) {
                if (inWord_) endWord(emit);
                beginWord(emit);
                pushChar(raw, emit);
                endWord(emit);
            } else if (inWord_) {
                endWord(emit);
            }
        }
        if (inWord_) endWord(emit);
        return count_;
    }

    float sumSquares() const { return sumSquares_; }

private:
    template <typename Emit>
    void out(uint64_t h, Emit& emit, bool isChar) {
        h = mix64(h);
        const float v = isChar ? cfg_.charWeight : 1.0f;
        emit(static_cast<uint32_t>(h) & mask_, (h >> 63) ? -v : v, isChar);
        count_++;
        sumSquares_ += v * v;
    }

    template <typename Emit>
    void beginWord(Emit& emit) {
        inWord_ = true;
        wordHash_ = kFnvOffset;
        winLen_ = 0;
        pushWindow(kWordStart);
        (void)emit;
    }

    void pushWindow(uint32_t cp) {
        if (winLen_ < kMaxCharN) {
            window_[winLen_++] = cp;
        } else {
            std::memmove(window_, window_ + 1, (kMaxCharN - 1) * sizeof(uint32_t));
            window_[kMaxCharN - 1] = cp;
        }
    }

    // Char n-grams (charMin..charMax) that end at the newest window position. One FNV pass runs
    // backwards from the newest character, so the n-gram of length n is the pass after n steps:
    // charMax steps for all lengths instead of charMin + ... + charMax.
    template <typename Emit>
    void emitCharGrams(Emit& emit) {
        if (cfg_.charMin == 0 || winLen_ < cfg_.charMin) return;
        const uint32_t longest = std::min(cfg_.charMax, winLen_);
        uint64_t h = kFnvOffset;
        for (uint32_t n = 1; n <= longest; n++) {
            h = fnvStep(h, window_[winLen_ - n]);
            if (n >= cfg_.charMin) out(h ^ charSalt_[n], emit, true);
        }
    }

    template <typename Emit>
    void pushChar(uint32_t cp, Emit& emit) {
        wordHash_ = fnvStep(wordHash_, cp);
        pushWindow(cp);
        emitCharGrams(emit);
    }

    template <typename Emit>
    void endWord(Emit& emit) {
        inWord_ = false;
        pushWindow(kWordEnd);
        emitCharGrams(emit);
        const uint64_t w = mix64(wordHash_);
        out(w ^ wordSalt_, emit, false);
        if (cfg_.wordNgrams >= 2 && havePrev_ >= 1) out(mix64(prev1_ ^ bigramSalt_) ^ w, emit, false);
        if (cfg_.wordNgrams >= 3 && havePrev_ >= 2) out(mix64(mix64(prev2_ ^ trigramSalt_) ^ prev1_) ^ w, emit, false);
        prev2_ = prev1_;
        prev1_ = w;
        if (havePrev_ < 2) havePrev_++;
    }

    FeatureConfig cfg_;
    uint32_t mask_;
    uint64_t charSalt_[kMaxCharN + 1];
    uint64_t wordSalt_, bigramSalt_, trigramSalt_;
    uint32_t window_[kMaxCharN];
    uint32_t winLen_ = 0;
    uint64_t wordHash_ = 0, prev1_ = 0, prev2_ = 0;
    int havePrev_ = 0;
    bool inWord_ = false;
    uint32_t count_ = 0;
    float sumSquares_ = 0.0f;
};

inline float sigmoid(float x) {
    if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
}

// dot(weights, x) for one text, where x is the normalised hashed vector; n = emissions.
inline float rawScore(FeatureWalker& walker, const float* weights, const uint8_t* p, const uint8_t* end, uint32_t& n) {
    float sum = 0.0f;
    n = walker.walk(p, end, [&](uint32_t bucket, float value, bool) { sum += value * weights[bucket]; });
    return n > 0 ? sum / std::sqrt(walker.sumSquares()) : 0.0f;
}

// ---- N-API argument helpers ----

[[noreturn]] void throwType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void throwRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

double numberOption(Napi::Env env, const Napi::Object& o, const char* where, const char* key, double fallback, double lo, double hi,
                    bool integer) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsNumber()) throwType(env, std::string(where) + ": " + key + " must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < lo || d > hi || (integer && d != std::floor(d))) {
        throwRange(env, std::string(where) + ": " + key + " must be " + (integer ? "an integer" : "a number") + " in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(d));
    }
    return d;
}

FeatureConfig readFeatureConfig(Napi::Env env, const Napi::Object& o, const char* where) {
    FeatureConfig cfg;
    const double version = numberOption(env, o, where, "featureVersion", kFeatureVersion, 0, 1e9, true);
    if (version != kFeatureVersion) {
        throwRange(env, std::string(where) + ": featureVersion " + std::to_string(static_cast<long long>(version)) +
                            " is not supported (this build extracts version " + std::to_string(kFeatureVersion) + ")");
    }
    cfg.bucketBits = static_cast<uint32_t>(numberOption(env, o, where, "bucketBits", 18, kMinBucketBits, kMaxBucketBits, true));
    cfg.wordNgrams = static_cast<uint32_t>(numberOption(env, o, where, "wordNgrams", 2, 1, kMaxWordN, true));
    cfg.charMin = static_cast<uint32_t>(numberOption(env, o, where, "charMin", 3, 0, kMaxCharN, true));
    cfg.charMax = static_cast<uint32_t>(numberOption(env, o, where, "charMax", 5, 0, kMaxCharN, true));
    if (cfg.charMin == 1 || (cfg.charMin > 0 && cfg.charMax < cfg.charMin) || (cfg.charMin == 0 && cfg.charMax != 0)) {
        throwRange(env, std::string(where) + ": char n-grams need 2 <= charMin <= charMax <= 8 (or both 0 for none)");
    }
    cfg.charWeight = static_cast<float>(numberOption(env, o, where, "charWeight", 1, 1e-3, 1e3, false));
    cfg.seed = static_cast<uint64_t>(numberOption(env, o, where, "hashSeed", 0, 0, 4294967295.0, true));
    return cfg;
}

Napi::Float32Array float32Arg(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throwType(env, what + " must be a Float32Array");
    return v.As<Napi::Float32Array>();
}

Napi::Uint32Array uint32Arg(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) throwType(env, what + " must be a Uint32Array");
    return v.As<Napi::Uint32Array>();
}

Napi::Uint8Array uint8Arg(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) throwType(env, what + " must be a Uint8Array");
    return v.As<Napi::Uint8Array>();
}

size_t countArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
    if (!v.IsNumber()) throwType(env, what + " must be a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > 4294967295.0) throwRange(env, what + " must be a non-negative integer");
    return static_cast<size_t>(d);
}

// The texts of a (bytes, offsets, count) triple, checked once per call.
struct TextBatch {
    const uint8_t* bytes;
    const uint32_t* offsets;
    size_t count;
    const uint8_t* begin(size_t i) const { return bytes + offsets[i]; }
    const uint8_t* end(size_t i) const { return bytes + offsets[i + 1]; }
};

TextBatch textBatchArgs(const Napi::CallbackInfo& info, size_t at, const std::string& where) {
    Napi::Env env = info.Env();
    Napi::Uint8Array bytes = uint8Arg(env, info[at], where + ": bytes");
    Napi::Uint32Array offsets = uint32Arg(env, info[at + 1], where + ": offsets");
    const size_t count = countArg(env, info[at + 2], where + ": count");
    if (offsets.ElementLength() < count + 1) {
        throwRange(env, where + ": offsets needs count + 1 = " + std::to_string(count + 1) + " entries, got " + std::to_string(offsets.ElementLength()));
    }
    const uint32_t* off = offsets.Data();
    for (size_t i = 0; i < count; i++) {
        if (off[i] > off[i + 1]) throwRange(env, where + ": offsets must be non-decreasing (text " + std::to_string(i) + ")");
    }
    if (off[count] > bytes.ElementLength()) throwRange(env, where + ": offsets point past the end of bytes");
    return {bytes.Data(), off, count};
}

// ---- classifierFeatures: the features of one text, for tests and debugging ----

Napi::Value ClassifierFeatures(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject()) throwType(env, "classifierFeatures(options, bytes): expected 2 arguments");
    const FeatureConfig cfg = readFeatureConfig(env, info[0].As<Napi::Object>(), "classifierFeatures");
    Napi::Uint8Array bytes = uint8Arg(env, info[1], "classifierFeatures: bytes");
    FeatureWalker walker(cfg);
    std::vector<int32_t> feats;
    const uint8_t* p = bytes.Data();
    walker.walk(p, p + bytes.ElementLength(), [&](uint32_t bucket, float value, bool) {
        feats.push_back(value > 0 ? static_cast<int32_t>(bucket + 1) : -static_cast<int32_t>(bucket + 1));
    });
    Napi::Int32Array out = Napi::Int32Array::New(env, feats.size());
    if (!feats.empty()) std::memcpy(out.Data(), feats.data(), feats.size() * sizeof(int32_t));
    return out;
}

// ---- TextClassifier: scoring with fixed weights ----

class TextClassifier : public Napi::ObjectWrap<TextClassifier> {
public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "TextClassifier", {InstanceMethod<&TextClassifier::Score>("score")});
    }

    explicit TextClassifier(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TextClassifier>(info), walker_(cfg_) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsObject()) throwType(env, "TextClassifier: expected an options object {bucketBits, ..., weights, bias}");
        Napi::Object o = info[0].As<Napi::Object>();
        cfg_ = readFeatureConfig(env, o, "TextClassifier");
        walker_ = FeatureWalker(cfg_);
        Napi::Float32Array w = float32Arg(env, o.Get("weights"), "TextClassifier: weights");
        if (w.ElementLength() != cfg_.buckets()) {
            throwRange(env, "TextClassifier: weights has " + std::to_string(w.ElementLength()) + " floats, expected buckets = " + std::to_string(cfg_.buckets()));
        }
        weights_.assign(w.Data(), w.Data() + w.ElementLength());
        bias_ = static_cast<float>(numberOption(env, o, "TextClassifier", "bias", 0, -1e30, 1e30, false));
        scale_ = static_cast<float>(numberOption(env, o, "TextClassifier", "scale", 1, -1e30, 1e30, false));
        shift_ = static_cast<float>(numberOption(env, o, "TextClassifier", "shift", 0, -1e30, 1e30, false));
    }

private:
    // score(bytes, offsets, count, outProb, outCount?): P(unsafe) per text; outCount gets the
    // number of feature occurrences (0 for a text without a word).
    Napi::Value Score(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 4) throwType(env, "TextClassifier.score(bytes, offsets, count, outProb, outCount?): expected at least 4 arguments");
        const TextBatch batch = textBatchArgs(info, 0, "TextClassifier.score");
        Napi::Float32Array outProb = float32Arg(env, info[3], "TextClassifier.score: outProb");
        if (outProb.ElementLength() < batch.count) throwRange(env, "TextClassifier.score: outProb is shorter than count");
        uint32_t* outCount = nullptr;
        if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
            Napi::Uint32Array c = uint32Arg(env, info[4], "TextClassifier.score: outCount");
            if (c.ElementLength() < batch.count) throwRange(env, "TextClassifier.score: outCount is shorter than count");
            outCount = c.Data();
        }
        float* prob = outProb.Data();
        const float* w = weights_.data();
        for (size_t i = 0; i < batch.count; i++) {
            uint32_t n = 0;
            const float logit = bias_ + rawScore(walker_, w, batch.begin(i), batch.end(i), n);
            prob[i] = sigmoid(scale_ * logit + shift_);
            if (outCount) outCount[i] = n;
        }
        return env.Undefined();
    }

    FeatureConfig cfg_;
    FeatureWalker walker_;
    std::vector<float> weights_;
    float bias_ = 0, scale_ = 1, shift_ = 0;
};

// ---- ClassifierTrainer: weighted logistic regression, minibatch AdaGrad with L2 ----
//
// Examples are featurised once when added (a bucket|sign word per occurrence, plus the 1/sqrt(n)
// norm) and revisited every epoch in a fresh seeded shuffle. The gradient of a minibatch is the
// weighted mean of (p - y) * x; L2 (lambda * w) is applied to the buckets the batch touches
// ("lazy" L2, standard for sparse SGD, so a step costs O(batch features), not O(buckets)).
class ClassifierTrainer : public Napi::ObjectWrap<ClassifierTrainer> {
public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "ClassifierTrainer",
                           {InstanceMethod<&ClassifierTrainer::AddExamples>("addExamples"),
                            InstanceMethod<&ClassifierTrainer::Run>("run"),
                            InstanceMethod<&ClassifierTrainer::Predict>("predict"),
                            InstanceMethod<&ClassifierTrainer::Weights>("weights"),
                            InstanceMethod<&ClassifierTrainer::Stats>("stats")});
    }

    explicit ClassifierTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ClassifierTrainer>(info), walker_(cfg_) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsObject()) throwType(env, "ClassifierTrainer: expected an options object");
        Napi::Object o = info[0].As<Napi::Object>();
        cfg_ = readFeatureConfig(env, o, "ClassifierTrainer");
        walker_ = FeatureWalker(cfg_);
        lr_ = static_cast<float>(numberOption(env, o, "ClassifierTrainer", "lr", 0.1, 1e-9, 1e3, false));
        l2_ = static_cast<float>(numberOption(env, o, "ClassifierTrainer", "l2", 1e-6, 0, 1e3, false));
        batchSize_ = static_cast<size_t>(numberOption(env, o, "ClassifierTrainer", "batchSize", 32, 1, 1 << 20, true));
        rng_ = static_cast<uint64_t>(numberOption(env, o, "ClassifierTrainer", "seed", 1, 0, 4294967295.0, true)) * 0x9e3779b97f4a7c15ULL + 1;
        const size_t b = cfg_.buckets();
        w_.assign(b, 0.0f);
        g2_.assign(b, 0.0f);
        grad_.assign(b, 0.0f);
        touchedMark_.assign(b, 0);
        featOffsets_.push_back(0);
    }

private:
    static constexpr float kEps = 1e-8f;
    // A stored feature occurrence: bucket (< 2^26) | kCharBit for a char n-gram | kNegBit for sign -.
    static constexpr uint32_t kNegBit = 0x80000000u;
    static constexpr uint32_t kCharBit = 0x40000000u;
    static constexpr uint32_t kBucketMask = 0x3FFFFFFFu;

    float occurrenceValue(uint32_t f) const {
        const float v = (f & kCharBit) ? cfg_.charWeight : 1.0f;
        return (f & kNegBit) ? -v : v;
    }

    uint64_t nextRandom() {  // splitmix64
        uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
        return mix64(z);
    }

    void shuffle() {
        order_.resize(labels_.size());
        for (size_t i = 0; i < order_.size(); i++) order_[i] = static_cast<uint32_t>(i);
        for (size_t i = order_.size(); i > 1; i--) {
            const size_t j = static_cast<size_t>(nextRandom() % i);
            std::swap(order_[i - 1], order_[j]);
        }
        cursor_ = 0;
    }

    // addExamples(bytes, offsets, count, labels, weights): labels in [0, 1], weights >= 0.
    Napi::Value AddExamples(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 5) throwType(env, "ClassifierTrainer.addExamples(bytes, offsets, count, labels, weights): expected 5 arguments");
        const TextBatch batch = textBatchArgs(info, 0, "ClassifierTrainer.addExamples");
        Napi::Float32Array labels = float32Arg(env, info[3], "ClassifierTrainer.addExamples: labels");
        Napi::Float32Array weights = float32Arg(env, info[4], "ClassifierTrainer.addExamples: weights");
        if (labels.ElementLength() < batch.count || weights.ElementLength() < batch.count) {
            throwRange(env, "ClassifierTrainer.addExamples: labels and weights need count entries");
        }
        for (size_t i = 0; i < batch.count; i++) {
            const float y = labels[i], wt = weights[i];
            if (!(y >= 0.0f && y <= 1.0f)) throwRange(env, "ClassifierTrainer.addExamples: label " + std::to_string(i) + " is not in [0, 1]");
            if (!(wt >= 0.0f) || !std::isfinite(wt)) throwRange(env, "ClassifierTrainer.addExamples: weight " + std::to_string(i) + " is not a finite number >= 0");
        }
        for (size_t i = 0; i < batch.count; i++) {
            const uint32_t n = walker_.walk(batch.begin(i), batch.end(i), [&](uint32_t bucket, float value, bool isChar) {
                feats_.push_back(bucket | (value < 0 ? kNegBit : 0u) | (isChar ? kCharBit : 0u));
            });
            featOffsets_.push_back(feats_.size());
            invNorm_.push_back(n > 0 ? 1.0f / std::sqrt(walker_.sumSquares()) : 0.0f);
            labels_.push_back(labels[i]);
            exampleWeights_.push_back(weights[i]);
        }
        order_.clear();  // reshuffle with the new examples at the next run
        return Napi::Number::New(env, static_cast<double>(labels_.size()));
    }

    float exampleLogit(size_t e) const {
        const size_t a = featOffsets_[e], b = featOffsets_[e + 1];
        if (a == b) return bias_;
        float sum = 0.0f;
        for (size_t k = a; k < b; k++) sum += occurrenceValue(feats_[k]) * w_[feats_[k] & kBucketMask];
        return bias_ + sum * invNorm_[e];
    }

    // run(batches): trains that many minibatches (continuing across epochs); returns
    // {loss: weighted mean log-loss of the examples seen, examples, epoch, batches}.
    Napi::Value Run(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (labels_.empty()) throw Napi::Error::New(env, "ClassifierTrainer.run: no examples (call addExamples first)");
        const size_t batches = countArg(env, info[0], "ClassifierTrainer.run: batches");
        double lossSum = 0.0, weightSum = 0.0;
        size_t seen = 0;
        for (size_t bi = 0; bi < batches; bi++) {
            if (order_.empty() || cursor_ >= order_.size()) {
                if (!order_.empty()) epoch_++;
                shuffle();
            }
            const size_t end = std::min(order_.size(), cursor_ + batchSize_);
            const float inv = 1.0f / static_cast<float>(end - cursor_);
            float biasGrad = 0.0f;
            touched_.clear();
            for (; cursor_ < end; cursor_++) {
                const size_t e = order_[cursor_];
                const float z = exampleLogit(e);
                const float p = sigmoid(z);
                const float y = labels_[e], wt = exampleWeights_[e];
                // log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0, stably.
                const double lp = z >= 0 ? std::log1p(std::exp(-static_cast<double>(z))) : -z + std::log1p(std::exp(static_cast<double>(z)));
                lossSum += wt * (y * lp + (1 - y) * (lp + z));
                weightSum += wt;
                seen++;
                const float err = (p - y) * wt * inv;
                biasGrad += err;
                const size_t a = featOffsets_[e], b = featOffsets_[e + 1];
                if (a == b) continue;
                const float g = err * invNorm_[e];
                for (size_t k = a; k < b; k++) {
                    const uint32_t f = feats_[k];
                    const uint32_t j = f & kBucketMask;
                    if (!touchedMark_[j]) {
                        touchedMark_[j] = 1;
                        touched_.push_back(j);
                    }
                    grad_[j] += g * occurrenceValue(f);
                }
            }
            for (const uint32_t j : touched_) {
                const float g = grad_[j] + l2_ * w_[j];
                g2_[j] += g * g;
                w_[j] -= lr_ * g / (std::sqrt(g2_[j]) + kEps);
                grad_[j] = 0.0f;
                touchedMark_[j] = 0;
            }
            biasG2_ += biasGrad * biasGrad;
            bias_ -= lr_ * biasGrad / (std::sqrt(biasG2_) + kEps);
            batchesRun_++;
        }
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", weightSum > 0 ? lossSum / weightSum : 0.0);
        out.Set("examples", static_cast<double>(seen));
        out.Set("epoch", static_cast<double>(epoch_) + (order_.empty() ? 0.0 : static_cast<double>(cursor_) / order_.size()));
        out.Set("batches", static_cast<double>(batchesRun_));
        return out;
    }

    // predict(bytes, offsets, count, outLogit): raw logits with the current weights.
    Napi::Value Predict(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 4) throwType(env, "ClassifierTrainer.predict(bytes, offsets, count, outLogit): expected 4 arguments");
        const TextBatch batch = textBatchArgs(info, 0, "ClassifierTrainer.predict");
        Napi::Float32Array out = float32Arg(env, info[3], "ClassifierTrainer.predict: outLogit");
        if (out.ElementLength() < batch.count) throwRange(env, "ClassifierTrainer.predict: outLogit is shorter than count");
        for (size_t i = 0; i < batch.count; i++) {
            uint32_t n = 0;
            out[i] = bias_ + rawScore(walker_, w_.data(), batch.begin(i), batch.end(i), n);
        }
        return env.Undefined();
    }

    // weights(out): copies the weights into out (buckets floats); returns the bias.
    Napi::Value Weights(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        Napi::Float32Array out = float32Arg(env, info[0], "ClassifierTrainer.weights: out");
        if (out.ElementLength() != w_.size()) throwRange(env, "ClassifierTrainer.weights: out must have buckets = " + std::to_string(w_.size()) + " floats");
        std::memcpy(out.Data(), w_.data(), w_.size() * sizeof(float));
        return Napi::Number::New(env, bias_);
    }

    Napi::Value Stats(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        Napi::Object out = Napi::Object::New(env);
        out.Set("examples", static_cast<double>(labels_.size()));
        out.Set("featureOccurrences", static_cast<double>(feats_.size()));
        out.Set("featureVersion", static_cast<double>(kFeatureVersion));
        return out;
    }

    FeatureConfig cfg_;
    FeatureWalker walker_;
    float lr_ = 0.1f, l2_ = 0.0f;
    size_t batchSize_ = 32;
    uint64_t rng_ = 1;
    std::vector<float> w_, g2_, grad_;
    std::vector<uint8_t> touchedMark_;
    std::vector<uint32_t> touched_;
    float bias_ = 0.0f, biasG2_ = 0.0f;
    std::vector<uint32_t> feats_;
    std::vector<size_t> featOffsets_;
    std::vector<float> invNorm_;  // per example: 1 / norm of its feature vector (0 without features)
    std::vector<float> labels_, exampleWeights_;
    std::vector<uint32_t> order_;
    size_t cursor_ = 0;
    size_t epoch_ = 0, batchesRun_ = 0;
};

}  // namespace

void InitClassifier(Napi::Env env, Napi::Object exports) {
    exports.Set("classifierFeatures", Napi::Function::New(env, ClassifierFeatures, "classifierFeatures"));
    exports.Set("CLASSIFIER_FEATURE_VERSION", Napi::Number::New(env, kFeatureVersion));
    exports.Set("TextClassifier", TextClassifier::Define(env));
    exports.Set("ClassifierTrainer", ClassifierTrainer::Define(env));
}
