// The argument reader of every N-API entry point (Call), its error messages, and the wrappers
// around kernel calls (denormals flushed, no C++ exception crossing into N-API).
//
// Each getter validates one argument and returns false after throwing a JS Error that starts with
// the kernel name; buffers are checked for type and length before any pointer is handed out.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

#include "denormals.h"

namespace myelin_binding {

inline constexpr int64_t kMaxSize = 2147483647;  // sizes are int32 in the kernels
inline constexpr size_t kMaxArgs = 20;

// Throws a JS Error with a printf-formatted message (error path only).
inline void throw_error(napi_env env, const char* fmt, ...) {
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
inline const char* describe(napi_env env, napi_value v) {
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

inline napi_value number_value(napi_env env, double d) {
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
  } catch (const std::invalid_argument& e) {
    throw_error(env, "%s", e.what());  // a kernel's own argument check (e.g. a conv geometry): starts with its name
  } catch (const std::bad_alloc&) {
    throw_error(env, "myelin: out of memory");
  } catch (const std::exception& e) {
    throw_error(env, "myelin: native error: %s", e.what());
  } catch (...) {
    throw_error(env, "myelin: unknown native error");
  }
  return nullptr;
}

}  // namespace myelin_binding
