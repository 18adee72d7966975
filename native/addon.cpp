// Module entry: registers the llama.cpp batch context, the critic, the text classifier and the trainer.
#include <napi.h>

void InitLlamaEngine(Napi::Env env, Napi::Object exports);
void InitCritic(Napi::Env env, Napi::Object exports);
void InitClassifier(Napi::Env env, Napi::Object exports);
void InitTrainer(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    InitLlamaEngine(env, exports);
    InitCritic(env, exports);
    InitClassifier(env, exports);
    InitTrainer(env, exports);
    return exports;
}

NODE_API_MODULE(inference_guard, Init)
