// The addon's one coupling to node-llama-cpp's private parts (the TypeScript side's is
// src/engine/nodeLlamaInternals.ts). Three assumptions, all tied to the node-llama-cpp version
// pinned in package.json and checked when the first model loads (a mismatch is a one-line error):
//  - its native model object is the class in its private llama/addon/AddonModel.h, whose fields
//    (model, disposed) we read from memory: the addon must be compiled against the installed
//    node-llama-cpp's header (nodeLlamaCppBuildVersion() says which one it was);
//  - the llama.cpp it loaded is a shared object named libllama.* (or, on macOS, any image with
//    "llama" in its name) exporting the symbols below, which we resolve at run time instead of
//    linking, so we always call the exact binary (CPU, CUDA, Metal, Vulkan) node-llama-cpp chose;
//  - those symbols match the llama.cpp headers extracted from it (native/prepare-llama-headers.mjs).
#pragma once

#include <napi.h>
#include <string>
#include "llama.h"

struct LlamaApi {
    decltype(&::llama_context_default_params) context_default_params = nullptr;
    decltype(&::llama_init_from_model) init_from_model = nullptr;
    decltype(&::llama_free) free = nullptr;
    decltype(&::llama_batch_init) batch_init = nullptr;
    decltype(&::llama_batch_free) batch_free = nullptr;
    decltype(&::llama_decode) decode = nullptr;
    decltype(&::llama_get_logits_ith) get_logits_ith = nullptr;
    decltype(&::llama_get_embeddings_ith) get_embeddings_ith = nullptr;
    decltype(&::llama_get_memory) get_memory = nullptr;
    decltype(&::llama_memory_seq_cp) memory_seq_cp = nullptr;
    decltype(&::llama_memory_seq_rm) memory_seq_rm = nullptr;
    decltype(&::llama_memory_clear) memory_clear = nullptr;
    decltype(&::llama_n_ctx) n_ctx = nullptr;
    decltype(&::llama_n_seq_max) n_seq_max = nullptr;
    decltype(&::llama_model_n_embd) model_n_embd = nullptr;
    decltype(&::llama_model_get_vocab) model_get_vocab = nullptr;
    decltype(&::llama_vocab_n_tokens) vocab_n_tokens = nullptr;
    decltype(&::llama_model_n_ctx_train) model_n_ctx_train = nullptr;
};

// Errors that mean node-llama-cpp is not what this addon was built for start with this text.
#define NODE_LLAMA_CPP_MISMATCH "node-llama-cpp mismatch: "

// Resolves the table once; throws std::runtime_error naming the missing symbol.
const LlamaApi& llamaApi();
// Path of the shared object the symbols came from (for diagnostics).
const std::string& llamaLibraryPath();
// The loaded llama_model* behind node-llama-cpp's AddonModel object; throws a JS error when it
// is not one, or its model is not loaded or was disposed.
llama_model* unwrapAddonModel(Napi::Env env, Napi::Object addonModel);
// The node-llama-cpp version whose AddonModel.h this addon was compiled against.
const char* nodeLlamaCppBuildVersion();
