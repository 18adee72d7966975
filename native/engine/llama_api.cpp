#include "llama_api.h"

#include <mutex>
#include <stdexcept>

#include "AddonModel.h"                // node-llama-cpp's private header (see llama_api.h)
#include "node_llama_cpp_build.h"      // written by native/prepare-llama-headers.mjs

#if defined(_WIN32)
#include <windows.h>
#include <psapi.h>
#else
#include <dlfcn.h>
#endif
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#elif defined(__linux__)
#include <link.h>
#endif

namespace {

std::string g_path;

#if defined(_WIN32)
void* findLibrary() {
    HMODULE mods[1024];
    DWORD needed = 0;
    HANDLE proc = GetCurrentProcess();
    if (!EnumProcessModules(proc, mods, sizeof(mods), &needed)) return nullptr;
    for (DWORD i = 0; i < needed / sizeof(HMODULE); i++) {
        if (GetProcAddress(mods[i], "llama_decode") != nullptr) {
            char name[MAX_PATH];
            GetModuleFileNameA(mods[i], name, MAX_PATH);
            g_path = name;
            return mods[i];
        }
    }
    return nullptr;
}
void* symbol(void* lib, const char* name) { return (void*)GetProcAddress((HMODULE)lib, name); }
#else
// The first already-loaded object that exports llama_decode is the libllama node-llama-cpp loaded.
void* tryLibrary(const char* path) {
    if (path == nullptr || path[0] == '\0') return nullptr;
    void* handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
    if (handle == nullptr) return nullptr;
    if (dlsym(handle, "llama_decode") == nullptr || dlsym(handle, "llama_init_from_model") == nullptr) {
        dlclose(handle);
        return nullptr;
    }
    g_path = path;
    return handle;
}
#if defined(__APPLE__)
void* findLibrary() {
    for (uint32_t i = 0; i < _dyld_image_count(); i++) {
        const char* name = _dyld_get_image_name(i);
        if (name != nullptr && std::string(name).find("llama") != std::string::npos) {
            if (void* h = tryLibrary(name)) return h;
        }
    }
    return nullptr;
}
#else
int visit(struct dl_phdr_info* info, size_t, void* data) {
    auto* out = static_cast<void**>(data);
    if (*out != nullptr) return 1;
    const std::string name = info->dlpi_name == nullptr ? "" : info->dlpi_name;
    // Only libllama itself: other llama.cpp objects (the addon, libllama-common) link to it.
    const auto slash = name.rfind('/');
    const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
    if (base.rfind("libllama.", 0) == 0) *out = tryLibrary(name.c_str());
    return *out != nullptr ? 1 : 0;
}
void* findLibrary() {
    void* found = nullptr;
    dl_iterate_phdr(visit, &found);
    return found;
}
#endif
void* symbol(void* lib, const char* name) { return dlsym(lib, name); }
#endif

template <typename F>
void resolve(void* lib, F& slot, const char* name) {
    slot = reinterpret_cast<F>(symbol(lib, name));
    if (slot == nullptr) {
        throw std::runtime_error(std::string(NODE_LLAMA_CPP_MISMATCH "llama.cpp symbol not found: ") + name +
                                 " (its llama.cpp does not match the headers this addon was built with)");
    }
}

}  // namespace

const LlamaApi& llamaApi() {
    static LlamaApi api;
    static std::once_flag once;
    static std::string error;
    std::call_once(once, [] {
        try {
            void* lib = findLibrary();
            if (lib == nullptr) {
                throw std::runtime_error(NODE_LLAMA_CPP_MISMATCH "no loaded libllama found (load a model with node-llama-cpp first)");
            }
            resolve(lib, api.context_default_params, "llama_context_default_params");
            resolve(lib, api.init_from_model, "llama_init_from_model");
            resolve(lib, api.free, "llama_free");
            resolve(lib, api.batch_init, "llama_batch_init");
            resolve(lib, api.batch_free, "llama_batch_free");
            resolve(lib, api.decode, "llama_decode");
            resolve(lib, api.get_logits_ith, "llama_get_logits_ith");
            resolve(lib, api.get_embeddings_ith, "llama_get_embeddings_ith");
            resolve(lib, api.get_memory, "llama_get_memory");
            resolve(lib, api.memory_seq_cp, "llama_memory_seq_cp");
            resolve(lib, api.memory_seq_rm, "llama_memory_seq_rm");
            resolve(lib, api.memory_clear, "llama_memory_clear");
            resolve(lib, api.n_ctx, "llama_n_ctx");
            resolve(lib, api.n_seq_max, "llama_n_seq_max");
            resolve(lib, api.model_n_embd, "llama_model_n_embd");
            resolve(lib, api.model_get_vocab, "llama_model_get_vocab");
            resolve(lib, api.vocab_n_tokens, "llama_vocab_n_tokens");
            resolve(lib, api.model_n_ctx_train, "llama_model_n_ctx_train");
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    if (!error.empty()) throw std::runtime_error(error);
    return api;
}

const std::string& llamaLibraryPath() { return g_path; }

llama_model* unwrapAddonModel(Napi::Env env, Napi::Object object) {
    AddonModel* addonModel = Napi::ObjectWrap<AddonModel>::Unwrap(object);
    if (addonModel == nullptr || addonModel->model == nullptr || addonModel->disposed) {
        throw Napi::Error::New(env, "the model is not loaded or was disposed");
    }
    return addonModel->model;
}

const char* nodeLlamaCppBuildVersion() { return NODE_LLAMA_CPP_BUILD_VERSION; }
