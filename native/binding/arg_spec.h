// Argument specs of the table-driven kernels: kernels.gen.h (generated from lib/backend/kernel-table.ts)
// describes each kernel with these types, and run_kernel (addon.cc) validates a call against them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace myelin_binding {

// bool; integer size >= 0 / >= 1; activation / unary-op code; finite number / any number;
// Float32Array / Int32Array / Int8Array / Uint16Array (bf16 bits).
enum class ArgType : uint8_t { kBool, kCount, kDim, kAct, kUnary, kFloat, kScalar, kF32, kI32, kI8, kU16 };

struct Arg {
  const char* name;
  ArgType type;
  bool nullable;      // buffers: null is allowed
  const char* len;    // buffers: the elements required, as the table writes it ("M*K")
  int8_t dims[3];     // buffers: the size arguments whose product is len (-1: unused)
  int8_t below;       // i32 buffers: each element must lie in [0, args[below]), else -1
  const char* each;   // i32 buffers with below: one element's name in messages ("label")
};

constexpr Arg value_arg(const char* name, ArgType type) {
  return {name, type, false, nullptr, {-1, -1, -1}, -1, nullptr};
}

constexpr Arg buffer_arg(const char* name, ArgType type, bool nullable, const char* len,
                         const int8_t (&dims)[3], int8_t below, const char* each) {
  return {name, type, nullable, len, {dims[0], dims[1], dims[2]}, below, each};
}

// A nullable buffer that is required when a condition on another argument holds.
enum class When : uint8_t { kNotEqual, kGreater, kCodeIn };

struct Requirement {
  int8_t buffer;     // the nullable buffer
  int8_t arg;        // the argument the condition reads
  When when;
  double value;      // kNotEqual, kGreater: the number compared with
  uint32_t codes;    // kCodeIn: bit c set for each code c that needs the buffer
  const char* text;  // the condition as messages print it ("momentum != 0")
};

// One validated argument.
union Slot {
  bool b;
  int64_t i;  // sizes and codes
  double d;
  float* f;
  int32_t* l;
  int8_t* q;
  uint16_t* h;
};

struct Kernel {
  const char* name;
  const char* arglist;  // "transA, transB, M, ..." for arity errors
  uint8_t argc;
  const Arg* args;
  const Requirement* required;
  uint8_t required_count;
  int8_t bounded;                     // the i32 buffer with a bound (Arg::below), or -1
  double (*call)(const Slot* args);  // runs the kernel on validated arguments: its result, or 0
  bool returns_number;
};

// A kKernels row (kernels.gen.h): the argument count comes from the specs array's size; no requirements,
// no bounded buffer unless the overload below or bounded() adds them.
template <size_t N>
constexpr Kernel kernel(const char* name, const char* arglist, const Arg (&args)[N], double (*call)(const Slot*), bool returns_number) {
  static_assert(N < 256, "a kernel takes fewer than 256 arguments");
  return Kernel{name, arglist, static_cast<uint8_t>(N), args, nullptr, 0, -1, call, returns_number};
}

// A row whose nullable buffers other arguments can make required (count from the array's size).
template <size_t N, size_t R>
constexpr Kernel kernel(const char* name, const char* arglist, const Arg (&args)[N], double (*call)(const Slot*), bool returns_number,
                        const Requirement (&required)[R]) {
  static_assert(R < 256, "fewer than 256 requirements");
  Kernel k = kernel(name, arglist, args, call, returns_number);
  k.required = required;
  k.required_count = static_cast<uint8_t>(R);
  return k;
}

// The row with its i32 buffer `buffer` bounded (Arg::below).
constexpr Kernel bounded(Kernel k, int8_t buffer) {
  k.bounded = buffer;
  return k;
}

}  // namespace myelin_binding
