#include <napi.h>
// Placeholder: filled in by the trainer work in progress.
void InitTrainer(Napi::Env, Napi::Object) {}
