#include <napi.h>
// Placeholder: filled in by the classifier work in progress.
void InitClassifier(Napi::Env, Napi::Object) {}
