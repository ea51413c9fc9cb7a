// N-API glue: the table-driven kernels (run_kernel), info/setNumThreads, freezePlan/forwardAsync/forwardDense.
//
// Every kernel of lib/backend/kernel-table.ts is one raw Node-API callback, run_kernel<N>: one
// generic body that validates a call against the kernel's argument specs (kernels.gen.h, generated
// from the table) and then calls it. The specs are constants, so the compiler specialises the body
// per kernel (as fast as a hand-written wrapper): no per-call allocation, no string building unless
// an argument is invalid; node-addon-api is used for module setup and info() only. Kernel calls run with denormals
// flushed to zero (denormals.h); forwardAsync works on C++ copies of everything. Every function
// validates argument count, types, sizes and buffer lengths before touching memory and throws a
// JS Error starting with the kernel name. No C++ exception escapes into N-API.
#include <napi.h>

#include <array>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "codes.gen.h"
#include "cpu.h"
#include "dense_stack.h"
#include "denormals.h"
#include "kernels.gen.h"
#include "threadpool.h"

namespace {

using myelin_binding::Arg;
using myelin_binding::ArgType;
using myelin_binding::Kernel;
using myelin_binding::Requirement;
using myelin_binding::Slot;
using myelin_binding::When;

constexpr int64_t kMaxSize = 2147483647;  // sizes are int32 in the kernels
constexpr size_t kMaxArgs = 16;

// Throws a JS Error with a printf-formatted message (error path only).
void throw_error(napi_env env, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, nullptr, msg);
}

// Short description of a JS value's type for error messages.
const char* describe(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "unknown";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_bigint: return "bigint";
    case napi_external: return "external";
    default: break;
  }
  bool is = false;
  if (napi_is_array(env, v, &is) == napi_ok && is) return "Array";
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type ty;
    if (napi_get_typedarray_info(env, v, &ty, nullptr, nullptr, nullptr, nullptr) == napi_ok) {
      switch (ty) {
        case napi_int8_array: return "Int8Array";
        case napi_uint8_array: return "Uint8Array";
        case napi_uint8_clamped_array: return "Uint8ClampedArray";
        case napi_int16_array: return "Int16Array";
        case napi_uint16_array: return "Uint16Array";
        case napi_int32_array: return "Int32Array";
        case napi_uint32_array: return "Uint32Array";
        case napi_float32_array: return "Float32Array";
        case napi_float64_array: return "Float64Array";
        case napi_bigint64_array: return "BigInt64Array";
        case napi_biguint64_array: return "BigUint64Array";
        default: return "typed array";
      }
    }
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return "ArrayBuffer";
  if (napi_is_dataview(env, v, &is) == napi_ok && is) return "DataView";
  return "object";
}

// One kernel call's arguments. Each getter returns false after throwing a JS Error.
struct Call {
  napi_env env;
  const char* kernel;
  size_t argc = kMaxArgs;
  napi_value argv[kMaxArgs];

  Call(napi_env e, const char* k) : env(e), kernel(k) {}

  bool start(napi_callback_info info, size_t expected, const char* names) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
      throw_error(env, "%s: could not read the arguments", kernel);
      return false;
    }
    if (argc != expected) {
      throw_error(env, "%s: expected %zu arguments (%s), got %zu", kernel, expected, names, argc);
      return false;
    }
    return true;
  }

  // An integer size in [min, 2^31-1].
  bool size(size_t i, const char* name, int64_t min, int64_t* out) {
    double d;
    if (napi_get_value_double(env, argv[i], &d) != napi_ok) {
      throw_error(env, "%s: %s must be an integer >= %lld, got %s", kernel, name, (long long)min,
                  describe(env, argv[i]));
      return false;
    }
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(kMaxSize) && d == std::floor(d))) {
      throw_error(env, "%s: %s must be an integer in [%lld, %lld], got %g", kernel, name,
                  (long long)min, (long long)kMaxSize, d);
      return false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }

  // An integer code in [0, max] (activation or unary op).
  bool code(size_t i, const char* name, int max, int* out) {
    int64_t v;
    double d;
    if (napi_get_value_double(env, argv[i], &d) != napi_ok || !(d >= 0 && d <= max && d == std::floor(d))) {
      if (napi_get_value_double(env, argv[i], &d) == napi_ok)
        throw_error(env, "%s: %s must be an integer code in [0, %d], got %g", kernel, name, max, d);
      else
        throw_error(env, "%s: %s must be an integer code in [0, %d], got %s", kernel, name, max,
                    describe(env, argv[i]));
      return false;
    }
    v = static_cast<int64_t>(d);
    *out = static_cast<int>(v);
    return true;
  }

  bool number(size_t i, const char* name, bool finite, double* out) {
    if (napi_get_value_double(env, argv[i], out) != napi_ok) {
      throw_error(env, "%s: %s must be a number, got %s", kernel, name, describe(env, argv[i]));
      return false;
    }
    if (finite && !std::isfinite(*out)) {
      throw_error(env, "%s: %s must be a finite number, got %g", kernel, name, *out);
      return false;
    }
    return true;
  }

  bool boolean(size_t i, const char* name, bool* out) {
    if (napi_get_value_bool(env, argv[i], out) != napi_ok) {
      throw_error(env, "%s: %s must be a boolean, got %s", kernel, name, describe(env, argv[i]));
      return false;
    }
    return true;
  }

  bool is_null(size_t i) {
    napi_valuetype t;
    return napi_typeof(env, argv[i], &t) == napi_ok && t == napi_null;
  }

  // The sizes a buffer length is the product of, for the error message ("(M=3, K=4)").
  struct Dims {
    const char* names[3];
    int64_t values[3];
    int count;
  };

  enum BufferStatus { kBufferOk, kWrongType, kTooShort };

  // Reads argv[i] as a typed array of type `want` with at least `need` elements: its data in
  // *out (nullptr for an allowed null) and its length; the caller words any error (cold paths).
  BufferStatus buffer(size_t i, napi_typedarray_type want, bool nullable, int64_t need, void** out,
                      size_t* length) {
    bool is = false;
    *length = 0;
    if (nullable && is_null(i)) {
      *out = nullptr;
      return kBufferOk;
    }
    napi_typedarray_type ty;
    if (napi_is_typedarray(env, argv[i], &is) != napi_ok || !is ||
        napi_get_typedarray_info(env, argv[i], &ty, length, out, nullptr, nullptr) != napi_ok ||
        ty != want)
      return kWrongType;
    return static_cast<int64_t>(*length) < need ? kTooShort : kBufferOk;
  }

  // "x must be a Float32Array or null, got Int32Array".
  [[gnu::cold, gnu::noinline]] void wrong_type(size_t i, const char* type_name, const char* name,
                                               bool nullable) {
    throw_error(env, "%s: %s must be a%s %s%s, got %s", kernel, name, type_name[0] == 'I' ? "n" : "",
                type_name, nullable ? " or null" : "", describe(env, argv[i]));
  }

  // "A has 10 elements, expected M*K = 12 (M=3, K=4)"; one size named like expr: "expected N = 4".
  [[gnu::cold, gnu::noinline]] void too_short(const char* name, size_t length, const char* expr,
                                              int64_t need, const Dims& dims) {
    char sizes[160] = "";
    if (!(dims.count == 1 && std::strcmp(expr, dims.names[0]) == 0)) {
      int at = snprintf(sizes, sizeof sizes, " (");
      for (int j = 0; j < dims.count && at < (int)sizeof sizes; ++j)
        at += snprintf(sizes + at, sizeof sizes - at, "%s%s=%lld", j > 0 ? ", " : "", dims.names[j],
                       (long long)dims.values[j]);
      if (at < (int)sizeof sizes) snprintf(sizes + at, sizeof sizes - at, ")");
    }
    throw_error(env, "%s: %s has %zu elements, expected %s = %lld%s", kernel, name, length, expr,
                (long long)need, sizes);
  }

  // A typed array of exactly the given type with at least the product of dims elements; `expr`
  // says how the requirement reads ("M*K").
  bool typed(size_t i, napi_typedarray_type want, const char* type_name, const char* name,
             bool nullable, const char* expr, const Dims& dims, void** out) {
    int64_t need = 1;
    for (int j = 0; j < dims.count; ++j) need *= dims.values[j];  // two int32 sizes: no overflow
    size_t length;
    switch (buffer(i, want, nullable, need, out, &length)) {
      case kBufferOk: return true;
      case kWrongType: wrong_type(i, type_name, name, nullable); return false;
      case kTooShort: too_short(name, length, expr, need, dims); return false;
    }
    return false;
  }

  // A Float32Array of d1 (* d2) elements, the requirement written as `expr`.
  bool f32(size_t i, const char* name, const char* expr, const Dims& dims, float** out,
           bool nullable = false) {
    void* p;
    if (!typed(i, napi_float32_array, "Float32Array", name, nullable, expr, dims, &p)) return false;
    *out = static_cast<float*>(p);
    return true;
  }
  // M x N matrix (expr like "M*N").
  bool mat(size_t i, const char* name, const char* expr, const char* d1, int64_t v1, const char* d2,
           int64_t v2, float** out, bool nullable = false) {
    return f32(i, name, expr, Dims{{d1, d2, nullptr}, {v1, v2, 0}, 2}, out, nullable);
  }
  // A vector of n elements, named like its size ("N").
  bool vec(size_t i, const char* name, const char* d, int64_t n, float** out, bool nullable = false) {
    return f32(i, name, d, Dims{{d, nullptr, nullptr}, {n, 0, 0}, 1}, out, nullable);
  }
};

napi_value number_value(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// Runs a kernel call with denormals flushed to zero on this (Node-owned) thread, restoring the
// thread's floating-point mode afterwards (see denormals.h).
#define FLUSHED(...)                              \
  do {                                            \
    myelin::DenormalsFlushed denormals_flushed_; \
    __VA_ARGS__;                                  \
  } while (0)

#define CHECK(expr) \
  do {              \
    if (!(expr)) return nullptr; \
  } while (0)

// Wraps a callback so no C++ exception crosses into N-API.
template <napi_callback F>
napi_value Guarded(napi_env env, napi_callback_info info) {
  try {
    return F(env, info);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    throw_error(env, "myelin: out of memory");
  } catch (const std::exception& e) {
    throw_error(env, "myelin: native error: %s", e.what());
  } catch (...) {
    throw_error(env, "myelin: unknown native error");
  }
  return nullptr;
}

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
  const char* type_name = a.type == ArgType::kF32 ? "Float32Array" : "Int32Array";
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
  if constexpr (a.type == ArgType::kF32 || a.type == ArgType::kI32) {
    int64_t need = s[a.dims[0]].i;
    if constexpr (a.dims[1] >= 0) need *= s[a.dims[1]].i;  // two int32 sizes: no overflow
    if constexpr (a.dims[2] >= 0) {
      if (__builtin_mul_overflow(need, s[a.dims[2]].i, &need)) need = INT64_MAX;
    }
    constexpr bool f32 = a.type == ArgType::kF32;
    void* p;
    size_t length;
    const Call::BufferStatus st =
        c.buffer(I, f32 ? napi_float32_array : napi_int32_array, a.nullable, need, &p, &length);
    if (st != Call::kBufferOk) {
      buffer_error(c, k, I, s, st, length, need);
      return false;
    }
    if constexpr (f32) s[I].f = static_cast<float*>(p);
    else s[I].l = static_cast<int32_t*>(p);
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

// ---- Inference plans: freezePlan, forwardAsync, forwardDense -------------------------------

// Reads a property of a layer object into argv slot i of a Call (so the usual getters apply).
bool layer_prop(Call& c, napi_value layer, const char* key, size_t slot) {
  napi_value v;
  if (napi_get_named_property(c.env, layer, key, &v) != napi_ok) {
    throw_error(c.env, "%s: could not read layers[].%s", c.kernel, key);
    return false;
  }
  c.argv[slot] = v;
  return true;
}

#define CHECK_OR_FALSE(expr) \
  do {                       \
    if (!(expr)) return false; \
  } while (0)

// A validated layer list. W and bias point into JS memory: valid only during the current call.
struct ParsedLayers {
  std::vector<myelin::DenseLayer> layers;
  int64_t in_features = 0;   // layers[0].K
  int64_t out_features = 0;  // last N
};

// Validates the layers array in argv[slot] ({N, K, W, bias, act, alpha} objects, each K equal to
// the previous N); false with a pending exception naming the kernel and the offending layer.
// Uses argv slots 10..15 as scratch (the caller's arguments in them are overwritten).
bool parse_layers(Call& c, size_t slot, ParsedLayers* out) {
  napi_env env = c.env;
  napi_value layers_arr = c.argv[slot];
  bool is_array = false;
  napi_is_array(env, layers_arr, &is_array);
  if (!is_array) {
    throw_error(env, "%s: layers must be an Array, got %s", c.kernel, describe(env, layers_arr));
    return false;
  }
  uint32_t count = 0;
  napi_get_array_length(env, layers_arr, &count);
  if (count == 0) {
    throw_error(env, "%s: layers is empty", c.kernel);
    return false;
  }
  out->layers.reserve(count);
  std::vector<napi_value> values;  // each layer's W and bias
  values.reserve(2 * static_cast<size_t>(count));
  int64_t prev_n = -1;
  char what[64];
  for (uint32_t i = 0; i < count; ++i) {
    napi_value layer;
    napi_valuetype t;
    if (napi_get_element(env, layers_arr, i, &layer) != napi_ok ||
        napi_typeof(env, layer, &t) != napi_ok || t != napi_object) {
      throw_error(env, "%s: layers[%u] must be an object {N, K, W, bias, act, alpha}", c.kernel, i);
      return false;
    }
    CHECK_OR_FALSE(layer_prop(c, layer, "N", 10) && layer_prop(c, layer, "K", 11) &&
                   layer_prop(c, layer, "W", 12) && layer_prop(c, layer, "bias", 13) &&
                   layer_prop(c, layer, "act", 14) && layer_prop(c, layer, "alpha", 15));
    int64_t N, K;
    int act;
    double alpha;
    float *W, *bias;
    snprintf(what, sizeof what, "layers[%u].N", i);
    CHECK_OR_FALSE(c.size(10, what, 1, &N));
    snprintf(what, sizeof what, "layers[%u].K", i);
    CHECK_OR_FALSE(c.size(11, what, 1, &K));
    if (prev_n >= 0 && K != prev_n) {
      throw_error(env, "%s: layers[%u].K = %lld does not match layers[%u].N = %lld", c.kernel, i,
                  (long long)K, i - 1, (long long)prev_n);
      return false;
    }
    snprintf(what, sizeof what, "layers[%u].act", i);
    CHECK_OR_FALSE(c.code(14, what, myelin::kActCount - 1, &act));
    snprintf(what, sizeof what, "layers[%u].alpha", i);
    CHECK_OR_FALSE(c.number(15, what, true, &alpha));
    snprintf(what, sizeof what, "layers[%u].W", i);
    CHECK_OR_FALSE(c.mat(12, what, "N*K", "N", N, "K", K, &W));
    snprintf(what, sizeof what, "layers[%u].bias", i);
    CHECK_OR_FALSE(c.vec(13, what, "N", N, &bias, true));
    if (i == 0) out->in_features = K;
    prev_n = N;
    out->layers.push_back({(int)N, (int)K, act, (float)alpha, W, bias});
    values.push_back(c.argv[12]);
    values.push_back(c.argv[13]);
  }
  out->out_features = prev_n;
  // Reading a later layer's properties can run JavaScript (getters, proxies) that detaches or
  // shrinks an earlier layer's buffer: take every pointer again now that no JS can run.
  for (uint32_t i = 0; i < count; ++i) {
    myelin::DenseLayer& l = out->layers[i];
    c.argv[12] = values[2 * i];
    c.argv[13] = values[2 * i + 1];
    float *W, *bias;
    snprintf(what, sizeof what, "layers[%u].W", i);
    CHECK_OR_FALSE(c.mat(12, what, "N*K", "N", l.N, "K", l.K, &W));
    snprintf(what, sizeof what, "layers[%u].bias", i);
    CHECK_OR_FALSE(c.vec(13, what, "N", l.N, &bias, true));
    l.W = W;
    l.bias = bias;
  }
  return true;
}

// The arguments (M, layers, X, out, softmax) of forwardAsync and forwardDense: their count, M and softmax.
bool plan_call(Call& c, napi_callback_info info, int64_t* M, bool* softmax) {
  return c.start(info, 5, "M, layers, X, out, softmax") && c.size(0, "M", 1, M) &&
         c.boolean(4, "softmax", softmax);
}

// X (M x layers[0].K) and out (M x last N) of forwardAsync and forwardDense.
bool plan_io(Call& c, int64_t M, int64_t in_features, int64_t out_features, float** X, float** out) {
  return c.mat(2, "X", "M*layers[0].K", "M", M, "K", in_features, X) &&
         c.mat(3, "out", "M*last.N", "M", M, "N", out_features, out);
}

// A plan whose weights were copied out of JS memory into one C++ allocation: immutable once made,
// shared by every forwardAsync call that uses it. A call holds a reference until its worker is
// done, so neither garbage collection nor a detached/transferred weight buffer can free what a
// pool thread reads.
struct FrozenPlan {
  std::vector<myelin::DenseLayer> layers;  // W and bias point into storage
  std::unique_ptr<float[]> storage;
  size_t floats = 0;
  int in_features = 0;
  int out_features = 0;
};
using FrozenPlanRef = std::shared_ptr<const FrozenPlan>;

// Tags the externals freezePlan returns, so forwardAsync never mistakes another addon's external
// for a plan.
const napi_type_tag kFrozenPlanTag = {0x6d79656c696e2e66ULL, 0x726f7a656e2d706cULL};

// Copies the weights of validated layers (throws std::bad_alloc).
FrozenPlanRef freeze(const ParsedLayers& parsed) {
  auto plan = std::make_shared<FrozenPlan>();
  size_t total = 0;
  for (const auto& l : parsed.layers)
    total += static_cast<size_t>(l.N) * l.K + (l.bias != nullptr ? static_cast<size_t>(l.N) : 0);
  plan->storage.reset(new float[total]);
  plan->floats = total;
  float* p = plan->storage.get();
  for (const auto& l : parsed.layers) {
    myelin::DenseLayer copy = l;
    const size_t w = static_cast<size_t>(l.N) * l.K;
    std::memcpy(p, l.W, w * sizeof(float));
    copy.W = p;
    p += w;
    if (l.bias != nullptr) {
      std::memcpy(p, l.bias, static_cast<size_t>(l.N) * sizeof(float));
      copy.bias = p;
      p += l.N;
    }
    plan->layers.push_back(copy);
  }
  plan->in_features = static_cast<int>(parsed.in_features);
  plan->out_features = static_cast<int>(parsed.out_features);
  return plan;
}

void finalize_frozen_plan(napi_env env, void* data, void* /*hint*/) {
  auto* ref = static_cast<FrozenPlanRef*>(data);
  int64_t ignored;
  napi_adjust_external_memory(env, -static_cast<int64_t>((*ref)->floats * sizeof(float)), &ignored);
  delete ref;
}

// freezePlan(layers) -> an opaque handle holding a copy of the layers' weights, for forwardAsync.
napi_value FreezePlan(napi_env env, napi_callback_info info) {
  Call c(env, "freezePlan");
  CHECK(c.start(info, 1, "layers"));
  ParsedLayers parsed;
  CHECK(parse_layers(c, 0, &parsed));
  auto* ref = new FrozenPlanRef(freeze(parsed));
  napi_value handle;
  if (napi_create_external(env, ref, finalize_frozen_plan, nullptr, &handle) != napi_ok) {
    delete ref;
    throw_error(env, "freezePlan: could not create the plan handle");
    return nullptr;
  }
  napi_type_tag_object(env, handle, &kFrozenPlanTag);
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>((*ref)->floats * sizeof(float)), &ignored);
  return handle;
}

// The frozen plan behind argv[i] if it is a freezePlan handle, else null (no exception).
FrozenPlanRef frozen_plan_arg(Call& c, size_t i) {
  napi_valuetype t;
  bool tagged = false;
  void* data = nullptr;
  if (napi_typeof(c.env, c.argv[i], &t) != napi_ok || t != napi_external) return nullptr;
  if (napi_check_object_type_tag(c.env, c.argv[i], &kFrozenPlanTag, &tagged) != napi_ok || !tagged)
    return nullptr;
  if (napi_get_value_external(c.env, c.argv[i], &data) != napi_ok || data == nullptr) return nullptr;
  return *static_cast<FrozenPlanRef*>(data);
}

// One forwardAsync call. Everything the pool thread touches is owned here (the plan's weights,
// a copy of the input, the result buffer), never JS memory; the JS `out` array is written on the
// main thread when the call completes, if it is still attached.
struct ForwardJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref out_ref = nullptr;
  FrozenPlanRef plan;
  int M = 0;
  bool softmax = false;
  std::unique_ptr<float[]> x;  // M x in_features
  std::unique_ptr<float[]> y;  // M x out_features
  const char* error = nullptr;  // set by the worker (static strings only)
};

void execute_forward(napi_env /*env*/, void* data) {
  auto* job = static_cast<ForwardJob*>(data);
  try {
    myelin::DenormalsFlushed flushed;  // a libuv thread: restore its mode for Node's other work
    const FrozenPlan& p = *job->plan;
    myelin::dense_stack_forward(job->M, static_cast<int>(p.layers.size()), p.layers.data(),
                                job->x.get(), job->y.get(), job->softmax);
  } catch (const std::bad_alloc&) {
    job->error = "forwardAsync: out of memory allocating scratch buffers";
  } catch (...) {
    job->error = "forwardAsync: native error in the forward pass";
  }
}

// Settles a promise with undefined (message null) or an Error. Every failure is ignored: during
// worker_threads teardown (worker.terminate(), process.exit() in a worker) the environment can no
// longer run JavaScript, and the promise simply stays pending while the environment goes away.
void settle(napi_env env, napi_deferred deferred, const char* message) {
  napi_value value = nullptr;
  if (message == nullptr) {
    if (napi_get_undefined(env, &value) == napi_ok) napi_resolve_deferred(env, deferred, value);
    return;
  }
  napi_value text;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) == napi_ok &&
      napi_create_error(env, nullptr, text, &value) == napi_ok) {
    napi_reject_deferred(env, deferred, value);
  }
}

// Runs on the JS thread after execute_forward (or when the work was cancelled). Calls only the C
// Node-API and never throws, so nothing can escape into libuv even while the environment is
// being torn down.
void complete_forward(napi_env env, napi_status status, void* data) {
  std::unique_ptr<ForwardJob> job(static_cast<ForwardJob*>(data));
  napi_delete_async_work(env, job->work);
  const char* error = status == napi_cancelled ? "forwardAsync: the call was cancelled" : job->error;
  if (error == nullptr) {
    const size_t need = static_cast<size_t>(job->M) * job->plan->out_features;
    napi_value out = nullptr;
    size_t length = 0;
    void* dst = nullptr;
    napi_typedarray_type type;
    if (napi_get_reference_value(env, job->out_ref, &out) == napi_ok && out != nullptr &&
        napi_get_typedarray_info(env, out, &type, &length, &dst, nullptr, nullptr) == napi_ok &&
        length >= need && dst != nullptr) {
      std::memcpy(dst, job->y.get(), need * sizeof(float));
    } else {
      error = "forwardAsync: out was detached (its ArrayBuffer transferred) before the result was ready";
    }
  }
  napi_delete_reference(env, job->out_ref);
  settle(env, job->deferred, error);
}

// Validates (M, plan, X, out, softmax), copies what the worker needs and queues it.
napi_value ForwardAsyncImpl(napi_env env, napi_callback_info info) {
  Call c(env, "forwardAsync");
  int64_t M;
  bool softmax;
  CHECK(plan_call(c, info, &M, &softmax));
  napi_value out_val = c.argv[3];
  FrozenPlanRef plan = frozen_plan_arg(c, 1);
  if (plan == nullptr) {
    napi_valuetype t;
    if (napi_typeof(env, c.argv[1], &t) == napi_ok && t == napi_external) {
      throw_error(env, "forwardAsync: layers is an external that freezePlan did not make");
      return nullptr;
    }
    ParsedLayers parsed;
    CHECK(parse_layers(c, 1, &parsed));
    plan = freeze(parsed);  // a plan passed as layers is copied for this call only
  }
  float *X, *out;
  CHECK(plan_io(c, M, plan->in_features, plan->out_features, &X, &out));
  auto job = std::make_unique<ForwardJob>();
  job->plan = plan;
  job->M = static_cast<int>(M);
  job->softmax = softmax;
  const size_t in_count = static_cast<size_t>(M) * plan->in_features;
  job->x.reset(new float[in_count]);
  std::memcpy(job->x.get(), X, in_count * sizeof(float));
  job->y.reset(new float[static_cast<size_t>(M) * plan->out_features]);

  napi_value promise, resource_name;
  if (napi_create_reference(env, out_val, 1, &job->out_ref) != napi_ok) {
    throw_error(env, "forwardAsync: could not reference out");
    return nullptr;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "myelin.forwardAsync", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, nullptr, resource_name, execute_forward, complete_forward, job.get(),
                             &job->work) != napi_ok) {
    napi_delete_reference(env, job->out_ref);
    throw_error(env, "forwardAsync: could not start the worker");
    return nullptr;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    napi_delete_reference(env, job->out_ref);
    throw_error(env, "forwardAsync: could not queue the worker");
    return nullptr;
  }
  job.release();  // complete_forward owns it now
  return promise;
}

// forwardAsync never throws: invalid arguments (or no memory for the copies) give a rejected promise.
napi_value ForwardAsync(napi_env env, napi_callback_info info) {
  napi_value r = nullptr;
  try {
    r = ForwardAsyncImpl(env, info);
  } catch (const std::bad_alloc&) {
    throw_error(env, "forwardAsync: out of memory copying the plan and the input");
  }
  if (r != nullptr) return r;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return nullptr;
  napi_value err;
  napi_get_and_clear_last_exception(env, &err);
  napi_deferred deferred;
  napi_value p;
  if (napi_create_promise(env, &deferred, &p) != napi_ok) {
    napi_throw(env, err);
    return nullptr;
  }
  napi_reject_deferred(env, deferred, err);
  return p;
}

// Synchronous twin of forwardAsync for large batches: the whole stack in one call on the calling
// thread's share of the pool, reading the layers in place (see dense_stack.h).
napi_value ForwardDense(napi_env env, napi_callback_info info) {
  Call c(env, "forwardDense");
  int64_t M;
  bool softmax;
  CHECK(plan_call(c, info, &M, &softmax));
  ParsedLayers parsed;
  CHECK(parse_layers(c, 1, &parsed));
  float *X, *out;
  CHECK(plan_io(c, M, parsed.in_features, parsed.out_features, &X, &out));
  FLUSHED(myelin::dense_stack_forward((int)M, static_cast<int>(parsed.layers.size()),
                                      parsed.layers.data(), X, out, softmax));
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
      {"freezePlan", Guarded<FreezePlan>},
      {"forwardAsync", Guarded<ForwardAsync>},
      {"forwardDense", Guarded<ForwardDense>},
      {"info", Guarded<Info>},
      {"setNumThreads", Guarded<SetNumThreads>},
  };
  for (const Entry& en : entries) export_function(env, exports, en.name, en.fn);
  return exports;
}

}  // namespace

NODE_API_MODULE(myelin, Init)
