// Module entry: registers the llama.cpp batch context and the critic kernels.
#include <napi.h>

void InitLlamaEngine(Napi::Env env, Napi::Object exports);
void InitCritic(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    InitLlamaEngine(env, exports);
    InitCritic(env, exports);
    return exports;
}

NODE_API_MODULE(inference_guard, Init)
