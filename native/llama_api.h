// Function table for the llama.cpp library that node-llama-cpp already loaded.
// We never link against libllama: we resolve its symbols at run time from the copy in memory,
// so our addon always calls the exact binary (CPU, CUDA, Metal, Vulkan) node-llama-cpp chose.
#pragma once

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

// Resolves the table once; throws std::runtime_error naming the missing symbol.
const LlamaApi& llamaApi();
// Path of the shared object the symbols came from (for diagnostics).
const std::string& llamaLibraryPath();
