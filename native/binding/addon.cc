// N-API glue: one validating function per contract kernel, info/setNumThreads, freezePlan/forwardAsync.
//
// Hot kernels are raw Node-API callbacks (no per-call allocation, no string building unless an
// argument is invalid); node-addon-api is used for module setup and info() only. Kernel calls run
// with denormals flushed to zero (denormals.h); forwardAsync works on C++ copies of everything.
// Every function validates argument count, types, sizes and buffer lengths before touching memory
// and throws a JS Error starting with the kernel name. No C++ exception escapes into N-API.
#include <napi.h>

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <vector>

#include "activation.h"
#include "cpu.h"
#include "denormals.h"
#include "elementwise.h"
#include "gemm.h"
#include "dense_stack.h"
#include "linear.h"
#include "optim.h"
#include "softmax.h"
#include "threadpool.h"

namespace {

constexpr int64_t kMaxSize = 2147483647;  // sizes are int32 in the kernels
constexpr size_t kMaxArgs = 16;

const char* const kActNames[] = {"none", "relu", "leakyRelu", "sigmoid", "tanh", "gelu", "geluTanh"};

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

  // A typed array of exactly the given type with at least `need` elements. `expr` and the dims
  // describe the requirement for the error message ("M*K", "M", 3, "K", 4).
  bool typed(size_t i, napi_typedarray_type want, const char* type_name, const char* name,
             bool nullable, int64_t need, const char* expr, const char* d1, int64_t v1,
             const char* d2, int64_t v2, void** out) {
    bool is = false;
    if (nullable && is_null(i)) {
      *out = nullptr;
      return true;
    }
    napi_typedarray_type ty;
    size_t length = 0;
    void* data = nullptr;
    if (napi_is_typedarray(env, argv[i], &is) != napi_ok || !is ||
        napi_get_typedarray_info(env, argv[i], &ty, &length, &data, nullptr, nullptr) != napi_ok ||
        ty != want) {
      throw_error(env, "%s: %s must be a %s%s, got %s", kernel, name, type_name,
                  nullable ? " or null" : "", describe(env, argv[i]));
      return false;
    }
    if (static_cast<int64_t>(length) < need) {
      if (d2 != nullptr)
        throw_error(env, "%s: %s has %zu elements, expected %s = %lld (%s=%lld, %s=%lld)", kernel,
                    name, length, expr, (long long)need, d1, (long long)v1, d2, (long long)v2);
      else if (d1 != nullptr && std::strcmp(expr, d1) != 0)
        throw_error(env, "%s: %s has %zu elements, expected %s = %lld (%s=%lld)", kernel, name,
                    length, expr, (long long)need, d1, (long long)v1);
      else
        throw_error(env, "%s: %s has %zu elements, expected %s = %lld", kernel, name, length, expr,
                    (long long)need);
      return false;
    }
    *out = data;
    return true;
  }

  bool f32(size_t i, const char* name, int64_t need, const char* expr, const char* d1, int64_t v1,
           const char* d2, int64_t v2, float** out, bool nullable = false) {
    void* p;
    if (!typed(i, napi_float32_array, "Float32Array", name, nullable, need, expr, d1, v1, d2, v2, &p))
      return false;
    *out = static_cast<float*>(p);
    return true;
  }
  // Flat buffer of n elements.
  bool flat(size_t i, const char* name, int64_t n, float** out, bool nullable = false) {
    return f32(i, name, n, "n", nullptr, 0, nullptr, 0, out, nullable);
  }
  // M x N matrix (expr like "M*N").
  bool mat(size_t i, const char* name, const char* expr, const char* d1, int64_t v1, const char* d2,
           int64_t v2, float** out, bool nullable = false) {
    return f32(i, name, v1 * v2, expr, d1, v1, d2, v2, out, nullable);
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

// ---- GEMM and dense layers ----------------------------------------------------------------

napi_value Gemm(napi_env env, napi_callback_info info) {
  Call c(env, "gemm");
  CHECK(c.start(info, 10, "transA, transB, M, N, K, alpha, A, B, beta, C"));
  bool ta, tb;
  int64_t M, N, K;
  double alpha, beta;
  float *A, *B, *C;
  CHECK(c.boolean(0, "transA", &ta) && c.boolean(1, "transB", &tb));
  CHECK(c.size(2, "M", 1, &M) && c.size(3, "N", 1, &N) && c.size(4, "K", 1, &K));
  CHECK(c.number(5, "alpha", true, &alpha) && c.number(8, "beta", true, &beta));
  CHECK(c.mat(6, "A", "M*K", "M", M, "K", K, &A));
  CHECK(c.mat(7, "B", "K*N", "K", K, "N", N, &B));
  CHECK(c.mat(9, "C", "M*N", "M", M, "N", N, &C));
  FLUSHED(myelin::gemm(ta, tb, (int)M, (int)N, (int)K, (float)alpha, A, B, (float)beta, C));
  return nullptr;
}

napi_value LinearForward(napi_env env, napi_callback_info info) {
  Call c(env, "linearForward");
  CHECK(c.start(info, 10, "M, N, K, X, W, bias, act, alpha, out, preact"));
  int64_t M, N, K;
  int act;
  double alpha;
  float *X, *W, *bias, *out, *preact;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N) && c.size(2, "K", 1, &K));
  CHECK(c.code(6, "act", 6, &act) && c.number(7, "alpha", true, &alpha));
  CHECK(c.mat(3, "X", "M*K", "M", M, "K", K, &X));
  CHECK(c.mat(4, "W", "N*K", "N", N, "K", K, &W));
  CHECK(c.f32(5, "bias", N, "N", "N", N, nullptr, 0, &bias, true));
  CHECK(c.mat(8, "out", "M*N", "M", M, "N", N, &out));
  CHECK(c.mat(9, "preact", "M*N", "M", M, "N", N, &preact, true));
  FLUSHED(myelin::linear_forward((int)M, (int)N, (int)K, X, W, bias, act, (float)alpha, out, preact));
  return nullptr;
}

napi_value LinearBackward(napi_env env, napi_callback_info info) {
  Call c(env, "linearBackward");
  CHECK(c.start(info, 15, "M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate"));
  int64_t M, N, K;
  int act;
  double alpha;
  bool accumulate;
  float *X, *W, *Y, *preact, *dY, *dZ, *dX, *dW, *dB;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N) && c.size(2, "K", 1, &K));
  CHECK(c.code(8, "act", 6, &act) && c.number(9, "alpha", true, &alpha));
  CHECK(c.boolean(14, "accumulate", &accumulate));
  CHECK(c.mat(3, "X", "M*K", "M", M, "K", K, &X));
  CHECK(c.mat(4, "W", "N*K", "N", N, "K", K, &W));
  CHECK(c.mat(5, "Y", "M*N", "M", M, "N", N, &Y));
  CHECK(c.mat(6, "preact", "M*N", "M", M, "N", N, &preact, true));
  CHECK(c.mat(7, "dY", "M*N", "M", M, "N", N, &dY));
  CHECK(c.mat(10, "dZ", "M*N", "M", M, "N", N, &dZ));
  CHECK(c.mat(11, "dX", "M*K", "M", M, "K", K, &dX, true));
  CHECK(c.mat(12, "dW", "N*K", "N", N, "K", K, &dW));
  CHECK(c.f32(13, "dB", N, "N", "N", N, nullptr, 0, &dB, true));
  if (preact == nullptr && (act == myelin::kActGelu || act == myelin::kActGeluTanh)) {
    throw_error(env, "linearBackward: preact is required for act %s (code %d), got null",
                kActNames[act], act);
    return nullptr;
  }
  FLUSHED(myelin::linear_backward((int)M, (int)N, (int)K, X, W, Y, preact, dY, act, (float)alpha,
                                  dZ, dX, dW, dB, accumulate));
  return nullptr;
}

// ---- Matrix row/column ops ----------------------------------------------------------------

napi_value AddBias(napi_env env, napi_callback_info info) {
  Call c(env, "addBias");
  CHECK(c.start(info, 5, "M, N, x, bias, out"));
  int64_t M, N;
  float *x, *bias, *out;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N));
  CHECK(c.mat(2, "x", "M*N", "M", M, "N", N, &x));
  CHECK(c.f32(3, "bias", N, "N", "N", N, nullptr, 0, &bias));
  CHECK(c.mat(4, "out", "M*N", "M", M, "N", N, &out));
  FLUSHED(myelin::add_bias(M, N, x, bias, out));
  return nullptr;
}

template <bool kCols>
napi_value RowColSum(napi_env env, napi_callback_info info) {
  Call c(env, kCols ? "colSum" : "rowSum");
  CHECK(c.start(info, 4, "M, N, x, out"));
  int64_t M, N;
  float *x, *out;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N));
  CHECK(c.mat(2, "x", "M*N", "M", M, "N", N, &x));
  if (kCols) {
    CHECK(c.f32(3, "out", N, "N", "N", N, nullptr, 0, &out));
    FLUSHED(myelin::col_sum(M, N, x, out));
  } else {
    CHECK(c.f32(3, "out", M, "M", "M", M, nullptr, 0, &out));
    FLUSHED(myelin::row_sum(M, N, x, out));
  }
  return nullptr;
}

// ---- Flat elementwise ---------------------------------------------------------------------

template <int kOp>
napi_value Binary(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"add", "sub", "mul", "div"};
  Call c(env, names[kOp]);
  CHECK(c.start(info, 4, "n, a, b, out"));
  int64_t n;
  float *a, *b, *out;
  CHECK(c.size(0, "n", 0, &n));
  CHECK(c.flat(1, "a", n, &a) && c.flat(2, "b", n, &b) && c.flat(3, "out", n, &out));
  myelin::DenormalsFlushed flushed;
  switch (kOp) {
    case 0: myelin::add(n, a, b, out); break;
    case 1: myelin::sub(n, a, b, out); break;
    case 2: myelin::mul(n, a, b, out); break;
    default: myelin::div(n, a, b, out); break;
  }
  return nullptr;
}

napi_value Scale(napi_env env, napi_callback_info info) {
  Call c(env, "scale");
  CHECK(c.start(info, 4, "n, a, s, out"));
  int64_t n;
  double s;
  float *a, *out;
  CHECK(c.size(0, "n", 0, &n) && c.number(2, "s", false, &s));
  CHECK(c.flat(1, "a", n, &a) && c.flat(3, "out", n, &out));
  FLUSHED(myelin::scale(n, a, (float)s, out));
  return nullptr;
}

napi_value Axpy(napi_env env, napi_callback_info info) {
  Call c(env, "axpy");
  CHECK(c.start(info, 4, "n, alpha, x, y"));
  int64_t n;
  double alpha;
  float *x, *y;
  CHECK(c.size(0, "n", 0, &n) && c.number(1, "alpha", false, &alpha));
  CHECK(c.flat(2, "x", n, &x) && c.flat(3, "y", n, &y));
  FLUSHED(myelin::axpy(n, (float)alpha, x, y));
  return nullptr;
}

napi_value Unary(napi_env env, napi_callback_info info) {
  Call c(env, "unary");
  CHECK(c.start(info, 4, "op, n, x, out"));
  int op;
  int64_t n;
  float *x, *out;
  CHECK(c.code(0, "op", 6, &op) && c.size(1, "n", 0, &n));
  CHECK(c.flat(2, "x", n, &x) && c.flat(3, "out", n, &out));
  FLUSHED(myelin::unary(op, n, x, out));
  return nullptr;
}

napi_value Sum(napi_env env, napi_callback_info info) {
  Call c(env, "sum");
  CHECK(c.start(info, 2, "n, x"));
  int64_t n;
  float* x;
  CHECK(c.size(0, "n", 0, &n) && c.flat(1, "x", n, &x));
  double total;
  FLUSHED(total = myelin::sum(n, x));
  return number_value(env, total);
}

napi_value ActivationForward(napi_env env, napi_callback_info info) {
  Call c(env, "activationForward");
  CHECK(c.start(info, 5, "act, n, x, out, alpha"));
  int act;
  int64_t n;
  double alpha;
  float *x, *out;
  CHECK(c.code(0, "act", 6, &act) && c.size(1, "n", 0, &n) && c.number(4, "alpha", true, &alpha));
  CHECK(c.flat(2, "x", n, &x) && c.flat(3, "out", n, &out));
  FLUSHED(myelin::activation_forward_parallel(act, n, x, out, (float)alpha));
  return nullptr;
}

napi_value ActivationBackward(napi_env env, napi_callback_info info) {
  Call c(env, "activationBackward");
  CHECK(c.start(info, 7, "act, n, x, y, dy, dx, alpha"));
  int act;
  int64_t n;
  double alpha;
  float *x, *y, *dy, *dx;
  CHECK(c.code(0, "act", 6, &act) && c.size(1, "n", 0, &n) && c.number(6, "alpha", true, &alpha));
  CHECK(c.flat(2, "x", n, &x) && c.flat(3, "y", n, &y) && c.flat(4, "dy", n, &dy) &&
        c.flat(5, "dx", n, &dx));
  FLUSHED(myelin::activation_backward_parallel(act, n, x, y, dy, dx, (float)alpha));
  return nullptr;
}

// ---- Softmax family -----------------------------------------------------------------------

template <bool kLog>
napi_value SoftmaxFwd(napi_env env, napi_callback_info info) {
  Call c(env, kLog ? "logSoftmax" : "softmax");
  CHECK(c.start(info, 4, "M, N, x, out"));
  int64_t M, N;
  float *x, *out;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N));
  CHECK(c.mat(2, "x", "M*N", "M", M, "N", N, &x) && c.mat(3, "out", "M*N", "M", M, "N", N, &out));
  myelin::DenormalsFlushed flushed;
  if (kLog) myelin::log_softmax(M, N, x, out);
  else myelin::softmax(M, N, x, out);
  return nullptr;
}

template <bool kLog>
napi_value SoftmaxBwd(napi_env env, napi_callback_info info) {
  Call c(env, kLog ? "logSoftmaxBackward" : "softmaxBackward");
  CHECK(c.start(info, 5, "M, N, y, dy, dx"));
  int64_t M, N;
  float *y, *dy, *dx;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N));
  CHECK(c.mat(2, "y", "M*N", "M", M, "N", N, &y) && c.mat(3, "dy", "M*N", "M", M, "N", N, &dy) &&
        c.mat(4, "dx", "M*N", "M", M, "N", N, &dx));
  myelin::DenormalsFlushed flushed;
  if (kLog) myelin::log_softmax_backward(M, N, y, dy, dx);
  else myelin::softmax_backward(M, N, y, dy, dx);
  return nullptr;
}

napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  Call c(env, "softmaxCrossEntropy");
  CHECK(c.start(info, 6, "M, N, logits, labels, grad, losses"));
  int64_t M, N;
  float *logits, *grad, *losses;
  void* lab;
  CHECK(c.size(0, "M", 1, &M) && c.size(1, "N", 1, &N));
  CHECK(c.mat(2, "logits", "M*N", "M", M, "N", N, &logits));
  CHECK(c.typed(3, napi_int32_array, "Int32Array", "labels", false, M, "M", "M", M, nullptr, 0, &lab));
  CHECK(c.mat(4, "grad", "M*N", "M", M, "N", N, &grad, true));
  CHECK(c.f32(5, "losses", M, "M", "M", M, nullptr, 0, &losses, true));
  const int32_t* labels = static_cast<const int32_t*>(lab);
  long bad = myelin::first_bad_label(M, N, labels);
  if (bad >= 0) {
    throw_error(env, "softmaxCrossEntropy: label %d at row %ld is out of range [0, %lld)",
                labels[bad], bad, (long long)N);
    return nullptr;
  }
  double loss;
  FLUSHED(loss = myelin::softmax_cross_entropy(M, N, logits, labels, grad, losses));
  return number_value(env, loss);
}

napi_value MseLoss(napi_env env, napi_callback_info info) {
  Call c(env, "mseLoss");
  CHECK(c.start(info, 3, "n, pred, target"));
  int64_t n;
  float *pred, *target;
  CHECK(c.size(0, "n", 0, &n) && c.flat(1, "pred", n, &pred) && c.flat(2, "target", n, &target));
  double loss;
  FLUSHED(loss = myelin::mse_loss(n, pred, target));
  return number_value(env, loss);
}

napi_value MseBackward(napi_env env, napi_callback_info info) {
  Call c(env, "mseBackward");
  CHECK(c.start(info, 4, "n, pred, target, grad"));
  int64_t n;
  float *pred, *target, *grad;
  CHECK(c.size(0, "n", 0, &n) && c.flat(1, "pred", n, &pred) && c.flat(2, "target", n, &target) &&
        c.flat(3, "grad", n, &grad));
  FLUSHED(myelin::mse_backward(n, pred, target, grad));
  return nullptr;
}

// ---- Optimizers ---------------------------------------------------------------------------

napi_value SgdStep(napi_env env, napi_callback_info info) {
  Call c(env, "sgdStep");
  CHECK(c.start(info, 8, "n, param, grad, velocity, lr, momentum, weightDecay, nesterov"));
  int64_t n;
  double lr, mom, wd;
  bool nesterov;
  float *p, *g, *vel;
  CHECK(c.size(0, "n", 0, &n));
  CHECK(c.number(4, "lr", true, &lr) && c.number(5, "momentum", true, &mom) &&
        c.number(6, "weightDecay", true, &wd) && c.boolean(7, "nesterov", &nesterov));
  CHECK(c.flat(1, "param", n, &p) && c.flat(2, "grad", n, &g) && c.flat(3, "velocity", n, &vel, true));
  if (vel == nullptr && mom != 0.0) {
    throw_error(env, "sgdStep: velocity is null but momentum = %g (needs a buffer of n = %lld)", mom,
                (long long)n);
    return nullptr;
  }
  FLUSHED(myelin::sgd_step(n, p, g, vel, (float)lr, (float)mom, (float)wd, nesterov));
  return nullptr;
}

napi_value AdamStep(napi_env env, napi_callback_info info) {
  Call c(env, "adamStep");
  CHECK(c.start(info, 12,
                "n, param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay, decoupled"));
  int64_t n, step;
  double lr, b1, b2, eps, wd;
  bool decoupled;
  float *p, *g, *m, *v;
  CHECK(c.size(0, "n", 0, &n) && c.size(5, "step", 1, &step));
  CHECK(c.number(6, "lr", true, &lr) && c.number(7, "beta1", true, &b1) &&
        c.number(8, "beta2", true, &b2) && c.number(9, "eps", true, &eps) &&
        c.number(10, "weightDecay", true, &wd) && c.boolean(11, "decoupled", &decoupled));
  CHECK(c.flat(1, "param", n, &p) && c.flat(2, "grad", n, &g) && c.flat(3, "m", n, &m) &&
        c.flat(4, "v", n, &v));
  FLUSHED(myelin::adam_step(n, p, g, m, v, (double)step, lr, b1, b2, eps, wd, decoupled));
  return nullptr;
}

napi_value RmspropStep(napi_env env, napi_callback_info info) {
  Call c(env, "rmspropStep");
  CHECK(c.start(info, 10, "n, param, grad, sq, buf, lr, alpha, eps, weightDecay, momentum"));
  int64_t n;
  double lr, alpha, eps, wd, mom;
  float *p, *g, *sq, *buf;
  CHECK(c.size(0, "n", 0, &n));
  CHECK(c.number(5, "lr", true, &lr) && c.number(6, "alpha", true, &alpha) &&
        c.number(7, "eps", true, &eps) && c.number(8, "weightDecay", true, &wd) &&
        c.number(9, "momentum", true, &mom));
  CHECK(c.flat(1, "param", n, &p) && c.flat(2, "grad", n, &g) && c.flat(3, "sq", n, &sq) &&
        c.flat(4, "buf", n, &buf, true));
  if (buf == nullptr && mom > 0.0) {
    throw_error(env, "rmspropStep: buf is null but momentum = %g (needs a buffer of n = %lld)", mom,
                (long long)n);
    return nullptr;
  }
  FLUSHED(myelin::rmsprop_step(n, p, g, sq, buf, lr, alpha, eps, wd, mom));
  return nullptr;
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
    CHECK_OR_FALSE(c.code(14, what, 6, &act));
    snprintf(what, sizeof what, "layers[%u].alpha", i);
    CHECK_OR_FALSE(c.number(15, what, true, &alpha));
    snprintf(what, sizeof what, "layers[%u].W", i);
    CHECK_OR_FALSE(c.mat(12, what, "N*K", "N", N, "K", K, &W));
    snprintf(what, sizeof what, "layers[%u].bias", i);
    CHECK_OR_FALSE(c.f32(13, what, N, "N", "N", N, nullptr, 0, &bias, true));
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
    CHECK_OR_FALSE(c.f32(13, what, l.N, "N", "N", l.N, nullptr, 0, &bias, true));
    l.W = W;
    l.bias = bias;
  }
  return true;
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
  CHECK(c.start(info, 5, "M, layers, X, out, softmax"));
  int64_t M;
  bool softmax;
  CHECK(c.size(0, "M", 1, &M) && c.boolean(4, "softmax", &softmax));
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
  CHECK(c.mat(2, "X", "M*layers[0].K", "M", M, "K", plan->in_features, &X));
  CHECK(c.mat(3, "out", "M*last.N", "M", M, "N", plan->out_features, &out));
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
  CHECK(c.start(info, 5, "M, layers, X, out, softmax"));
  int64_t M;
  bool softmax;
  CHECK(c.size(0, "M", 1, &M) && c.boolean(4, "softmax", &softmax));
  ParsedLayers parsed;
  CHECK(parse_layers(c, 1, &parsed));
  float *X, *out;
  CHECK(c.mat(2, "X", "M*layers[0].K", "M", M, "K", parsed.in_features, &X));
  CHECK(c.mat(3, "out", "M*last.N", "M", M, "N", parsed.out_features, &out));
  FLUSHED(myelin::dense_stack_forward((int)M, static_cast<int>(parsed.layers.size()),
                                      parsed.layers.data(), X, out, softmax));
  return nullptr;
}

// ---- Registration -------------------------------------------------------------------------

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

struct Entry {
  const char* name;
  napi_callback fn;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static const Entry entries[] = {
      {"gemm", Guarded<Gemm>},
      {"linearForward", Guarded<LinearForward>},
      {"linearBackward", Guarded<LinearBackward>},
      {"addBias", Guarded<AddBias>},
      {"colSum", Guarded<RowColSum<true>>},
      {"rowSum", Guarded<RowColSum<false>>},
      {"add", Guarded<Binary<0>>},
      {"sub", Guarded<Binary<1>>},
      {"mul", Guarded<Binary<2>>},
      {"div", Guarded<Binary<3>>},
      {"scale", Guarded<Scale>},
      {"axpy", Guarded<Axpy>},
      {"unary", Guarded<Unary>},
      {"sum", Guarded<Sum>},
      {"activationForward", Guarded<ActivationForward>},
      {"activationBackward", Guarded<ActivationBackward>},
      {"softmax", Guarded<SoftmaxFwd<false>>},
      {"logSoftmax", Guarded<SoftmaxFwd<true>>},
      {"softmaxBackward", Guarded<SoftmaxBwd<false>>},
      {"logSoftmaxBackward", Guarded<SoftmaxBwd<true>>},
      {"softmaxCrossEntropy", Guarded<SoftmaxCrossEntropy>},
      {"mseLoss", Guarded<MseLoss>},
      {"mseBackward", Guarded<MseBackward>},
      {"sgdStep", Guarded<SgdStep>},
      {"adamStep", Guarded<AdamStep>},
      {"rmspropStep", Guarded<RmspropStep>},
      {"freezePlan", Guarded<FreezePlan>},
      {"forwardAsync", Guarded<ForwardAsync>},
      {"forwardDense", Guarded<ForwardDense>},
      {"info", Guarded<Info>},
      {"setNumThreads", Guarded<SetNumThreads>},
  };
  for (const Entry& en : entries) {
    napi_value fn;
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, en.name, NAPI_AUTO_LENGTH, en.fn, nullptr, &fn),
                         exports);
    exports.Set(en.name, Napi::Value(env, fn));
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(myelin, Init)
