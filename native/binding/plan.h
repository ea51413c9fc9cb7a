// The inference-plan entry points of the binding: freezePlan, forwardAsync, forwardDense (plan.cc).
#pragma once
#include <node_api.h>

namespace myelin_binding {

// freezePlan(layers) -> an opaque handle holding a copy of the layers' weights.
napi_value FreezePlan(napi_env env, napi_callback_info info);
// forwardAsync(M, layers | handle, X, out, softmax) -> a promise; never throws.
napi_value ForwardAsync(napi_env env, napi_callback_info info);
// forwardDense(M, layers | handle, X, out, softmax): the whole stack in one synchronous call.
napi_value ForwardDense(napi_env env, napi_callback_info info);

}  // namespace myelin_binding
