// N-API module: the table-driven kernels (run_kernel<N>), info/setNumThreads, and the registration
// of those and of the plan entry points (plan.cc).
//
// Every kernel of lib/backend/kernel-table.ts is one raw Node-API callback, run_kernel<N>: one
// generic body that validates a call against the kernel's argument specs (kernels.gen.h, generated
// from the table) and then calls it. The specs are constants, so the compiler specialises the body
// per kernel (as fast as a hand-written wrapper): no per-call allocation, no string building unless
// an argument is invalid; node-addon-api is used for module setup and info() only. Kernel calls run
// with denormals flushed to zero (denormals.h). Every function validates argument count, types,
// sizes and buffer lengths before touching memory and throws a JS Error starting with the kernel
// name (call.h). No C++ exception escapes into N-API.
#include <napi.h>

#include <array>
#include <cstdint>
#include <utility>

#include "call.h"
#include "codes.gen.h"
#include "cpu.h"
#include "kernels.gen.h"
#include "plan.h"
#include "threadpool.h"

namespace {

using myelin_binding::Arg;
using myelin_binding::ArgType;
using myelin_binding::Call;
using myelin_binding::Guarded;
using myelin_binding::Kernel;
using myelin_binding::Requirement;
using myelin_binding::Slot;
using myelin_binding::When;
using myelin_binding::number_value;
using myelin_binding::throw_error;

// ---- The table-driven kernels ------------------------------------------------------------

// Whether a requirement's condition holds for the validated arguments.
bool requirement_holds(const Requirement& r, const Slot* s) {
  switch (r.when) {
    case When::kNotEqual: return s[r.arg].d != r.value;
    case When::kGreater: return s[r.arg].d > r.value;
    case When::kCodeIn: return ((r.codes >> s[r.arg].i) & 1u) != 0;
  }
  return false;
}

// A buffer argument's error (cold): its type, or its length with the sizes it depends on.
[[gnu::cold, gnu::noinline]] void buffer_error(Call& c, const Kernel& k, size_t i, const Slot* s,
                                               Call::BufferStatus status, size_t length, int64_t need) {
  const Arg& a = k.args[i];
  const char* type_name = a.type == ArgType::kF32   ? "Float32Array"
                          : a.type == ArgType::kI32 ? "Int32Array"
                          : a.type == ArgType::kI8  ? "Int8Array"
                                                    : "Uint16Array";
  if (status == Call::kWrongType) return c.wrong_type(i, type_name, a.name, a.nullable);
  Call::Dims dims{{nullptr, nullptr, nullptr}, {0, 0, 0}, 0};
  for (int j = 0; j < 3 && a.dims[j] >= 0; ++j) {
    dims.names[j] = k.args[a.dims[j]].name;
    dims.values[j] = s[a.dims[j]].i;
    dims.count = j + 1;
  }
  c.too_short(a.name, length, a.len, need, dims);
}

// A requirement that failed (cold): "preact is required when act is gelu or geluTanh, got null (act = gelu)".
[[gnu::cold, gnu::noinline]] void requirement_error(napi_env env, const Kernel& k, const Requirement& q,
                                                    const Slot* s) {
  const Arg& by = k.args[q.arg];
  if (by.type == ArgType::kAct)
    throw_error(env, "%s: %s is required when %s, got null (%s = %s)", k.name, k.args[q.buffer].name,
                q.text, by.name, myelin::kActNames[s[q.arg].i]);
  else
    throw_error(env, "%s: %s is required when %s, got null (%s = %g)", k.name, k.args[q.buffer].name,
                q.text, by.name, s[q.arg].d);
}

// One argument of kernel N, checked as its spec (a compile-time constant) says; false after
// throwing. Buffers read their sizes from the slots before them (sizes come first in the table).
template <size_t N, size_t I>
inline bool read_arg(Call& c, Slot* s) {
  constexpr const Kernel& k = myelin_binding::kKernels[N];
  constexpr const Arg& a = k.args[I];
  if constexpr (a.type == ArgType::kBool) return c.boolean(I, a.name, &s[I].b);
  if constexpr (a.type == ArgType::kCount || a.type == ArgType::kDim)
    return c.size(I, a.name, a.type == ArgType::kDim ? 1 : 0, &s[I].i);
  if constexpr (a.type == ArgType::kAct || a.type == ArgType::kUnary) {
    int code;
    if (!c.code(I, a.name, (a.type == ArgType::kAct ? myelin::kActCount : myelin::kUnaryCount) - 1, &code))
      return false;
    s[I].i = code;
    return true;
  }
  if constexpr (a.type == ArgType::kFloat || a.type == ArgType::kScalar)
    return c.number(I, a.name, a.type == ArgType::kFloat, &s[I].d);
  if constexpr (a.type == ArgType::kF32 || a.type == ArgType::kI32 || a.type == ArgType::kI8 ||
                a.type == ArgType::kU16) {
    int64_t need = s[a.dims[0]].i;
    if constexpr (a.dims[1] >= 0) need *= s[a.dims[1]].i;  // two int32 sizes: no overflow
    if constexpr (a.dims[2] >= 0) {
      if (__builtin_mul_overflow(need, s[a.dims[2]].i, &need)) need = INT64_MAX;
    }
    constexpr napi_typedarray_type want = a.type == ArgType::kF32   ? napi_float32_array
                                          : a.type == ArgType::kI32 ? napi_int32_array
                                          : a.type == ArgType::kI8  ? napi_int8_array
                                                                    : napi_uint16_array;
    void* p;
    size_t length;
    const Call::BufferStatus st = c.buffer(I, want, a.nullable, need, &p, &length);
    if (st != Call::kBufferOk) {
      buffer_error(c, k, I, s, st, length, need);
      return false;
    }
    if constexpr (a.type == ArgType::kF32) s[I].f = static_cast<float*>(p);
    else if constexpr (a.type == ArgType::kI32) s[I].l = static_cast<int32_t*>(p);
    else if constexpr (a.type == ArgType::kI8) s[I].q = static_cast<int8_t*>(p);
    else s[I].h = static_cast<uint16_t*>(p);
    return true;
  }
}

template <size_t N, size_t... I>
inline bool read_args(Call& c, Slot* s, std::index_sequence<I...>) {
  return (read_arg<N, I>(c, s) && ...);
}

// Kernel N of the table: validates a call against the kernel's argument specs in table order,
// then the requirements between arguments and the bounds of integer buffers, then runs it. One
// generic body, specialised by the compiler per kernel (the specs are compile-time constants).
template <size_t N>
napi_value run_kernel(napi_env env, napi_callback_info info) {
  constexpr const Kernel& k = myelin_binding::kKernels[N];
  Call c(env, k.name);
  CHECK(c.start(info, k.argc, k.arglist));
  constexpr size_t argc = myelin_binding::kKernels[N].argc;
  Slot s[argc];
  CHECK(read_args<N>(c, s, std::make_index_sequence<argc>{}));
  for (size_t r = 0; r < k.required_count; ++r) {
    const Requirement& q = k.required[r];
    if (s[q.buffer].f == nullptr && requirement_holds(q, s)) {
      requirement_error(env, k, q, s);
      return nullptr;
    }
  }
  if constexpr (k.bounded >= 0) {  // an Int32Array whose elements must lie in [0, a size)
    constexpr const Arg& a = k.args[k.bounded];
    const int32_t* xs = s[k.bounded].l;
    const int64_t count = s[a.dims[0]].i, bound = s[a.below].i;
    for (int64_t j = 0; j < count; ++j) {
      if (xs[j] < 0 || xs[j] >= bound) {
        throw_error(env, "%s: %s %d at row %lld is out of range [0, %lld)", k.name, a.each, xs[j],
                    (long long)j, (long long)bound);
        return nullptr;
      }
    }
  }
  double result;
  FLUSHED(result = k.call(s));
  if constexpr (k.returns_number) return number_value(env, result);
  return nullptr;
}

// The callbacks of every kernel of the table, in table order.
template <size_t... N>
constexpr std::array<napi_callback, sizeof...(N)> kernel_callbacks(std::index_sequence<N...>) {
  return {Guarded<run_kernel<N>>...};
}

// ---- Runtime ------------------------------------------------------------------------------

napi_value Info(napi_env env, napi_callback_info info) {
  Call c(env, "info");
  CHECK(c.start(info, 0, ""));
  Napi::Env e(env);
  Napi::Object o = Napi::Object::New(e);
  o.Set("simd", myelin::simd_name());
  o.Set("gemmSimd", myelin::gemm_simd_name());  // the GEMM kernels may use a wider ISA (avx512)
  o.Set("int8Path", myelin::qgemm_i8_path());     // qgemm.h: amx, avx512vnni, avx2 or scalar
  o.Set("bf16Path", myelin::gemm_bf16_path());    // amx, avx512bf16 or fp32
  o.Set("amx", myelin::amx_status());             // in use / unavailable: why / off: why
  o.Set("mixedBf16Path", myelin::gemm_mixed_bf16_path());  // gemm_mixed_bf16.h: avx512bf16 or fp32
  o.Set("qconvPath", myelin::qconv_i8_path());    // qconv.h: avx512vnni-direct or im2col (stride 1)
  o.Set("qconvBf16Path", myelin::qconv_bf16_path());  // avx512bf16-direct or im2col (stride 1)
  o.Set("threads", myelin::num_threads());
#if defined(__clang__)
  o.Set("compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", "gcc " __VERSION__);
#else
  o.Set("compiler", "unknown");
#endif
#if defined(__OPTIMIZE__)
  o.Set("build", "release");
#else
  o.Set("build", "debug");
#endif
#if defined(__SANITIZE_ADDRESS__)
  o.Set("sanitizers", "address,undefined");
#endif
  o.Set("napiVersion", NAPI_VERSION);
  o.Set("kernelTable", myelin_binding::kKernelTableDigest);  // lib/backend/native.ts checks it
  return o;
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  Call c(env, "setNumThreads");
  CHECK(c.start(info, 1, "n"));
  int64_t n;
  CHECK(c.size(0, "n", 1, &n));
  if (n > 256) {
    throw_error(env, "setNumThreads: n must be an integer in [1, 256], got %lld", (long long)n);
    return nullptr;
  }
  myelin::set_num_threads(static_cast<int>(n));
  return nullptr;
}

// ---- Registration -------------------------------------------------------------------------

struct Entry {
  const char* name;
  napi_callback fn;
};

// Adds function `name` to exports.
void export_function(Napi::Env env, Napi::Object exports, const char* name, napi_callback fn) {
  napi_value f;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f));
  exports.Set(name, Napi::Value(env, f));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  constexpr size_t count = std::size(myelin_binding::kKernels);
  static constexpr std::array<napi_callback, count> callbacks = kernel_callbacks(std::make_index_sequence<count>{});
  for (size_t i = 0; i < count; ++i) export_function(env, exports, myelin_binding::kKernels[i].name, callbacks[i]);
  static const Entry entries[] = {
      {"freezePlan", Guarded<myelin_binding::FreezePlan>},
      {"forwardAsync", Guarded<myelin_binding::ForwardAsync>},
      {"forwardDense", Guarded<myelin_binding::ForwardDense>},
      {"info", Guarded<Info>},
      {"setNumThreads", Guarded<SetNumThreads>},
  };
  for (const Entry& en : entries) export_function(env, exports, en.name, en.fn);
  return exports;
}

}  // namespace

NODE_API_MODULE(myelin, Init)
