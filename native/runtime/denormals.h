// Flush-to-zero and denormals-are-zero for threads that run kernels (x86-64 MXCSR, arm64 FPCR).
//
// Denormal (subnormal) floats take a microcode assist on every operation that reads or produces
// one: a 512^3 matmul whose products are denormal ran ~150x slower, exp/sigmoid/tanh ~20x. With
// these modes on, such values are read and written as (signed) zero instead. The mode is per
// thread: the pool's workers set it once for good (flush_denormals_on_this_thread), and a thread
// that belongs to Node (its main thread, a libuv worker) sets it only for the duration of one
// kernel call (DenormalsFlushed), so JavaScript on that thread keeps IEEE behaviour.
#pragma once

#if defined(__x86_64__) || defined(_M_X64) || (defined(__i386__) && defined(__SSE2__))
#include <xmmintrin.h>
#define MYELIN_FP_MODE_X86 1
#elif defined(__aarch64__)
#define MYELIN_FP_MODE_ARM64 1
#endif

namespace myelin {

#if defined(MYELIN_FP_MODE_X86)
using FpMode = unsigned int;
// MXCSR bit 15 = FTZ (results below FLT_MIN become 0), bit 6 = DAZ (such inputs read as 0).
constexpr FpMode kFlushBits = (1u << 15) | (1u << 6);
inline FpMode read_fp_mode() { return _mm_getcsr(); }
inline void write_fp_mode(FpMode m) { _mm_setcsr(m); }
#elif defined(MYELIN_FP_MODE_ARM64)
using FpMode = unsigned long long;
// FPCR bit 24 = FZ: denormal inputs and results of float and double operations become 0.
constexpr FpMode kFlushBits = 1ull << 24;
#if defined(__clang__)
inline FpMode read_fp_mode() { return __builtin_arm_rsr64("fpcr"); }
inline void write_fp_mode(FpMode m) { __builtin_arm_wsr64("fpcr", m); }
#else
inline FpMode read_fp_mode() { return __builtin_aarch64_get_fpcr64(); }
inline void write_fp_mode(FpMode m) { __builtin_aarch64_set_fpcr64(m); }
#endif
#else
// Other targets: no control, kernels keep IEEE denormals.
using FpMode = unsigned int;
constexpr FpMode kFlushBits = 0;
inline FpMode read_fp_mode() { return 0; }
inline void write_fp_mode(FpMode) {}
#endif

// True when this build can flush denormals (x86-64 or arm64).
constexpr bool kCanFlushDenormals = kFlushBits != 0;

// Whether the calling thread currently flushes denormals.
inline bool denormals_flushed() { return kCanFlushDenormals && (read_fp_mode() & kFlushBits) == kFlushBits; }

// Turns flushing on for the calling thread, for the rest of its life (thread-pool workers).
inline void flush_denormals_on_this_thread() {
  if (kCanFlushDenormals) write_fp_mode(read_fp_mode() | kFlushBits);
}

// Flushing on for this object's lifetime, then the thread's previous mode back (only the two
// bits are touched; the register is written only when they were not already set).
class DenormalsFlushed {
 public:
  DenormalsFlushed() : saved_(read_fp_mode()) {
    if (kCanFlushDenormals && (saved_ & kFlushBits) != kFlushBits) write_fp_mode(saved_ | kFlushBits);
  }
  ~DenormalsFlushed() {
    if (kCanFlushDenormals && (saved_ & kFlushBits) != kFlushBits) write_fp_mode(saved_);
  }
  DenormalsFlushed(const DenormalsFlushed&) = delete;
  DenormalsFlushed& operator=(const DenormalsFlushed&) = delete;

 private:
  FpMode saved_;
};

}  // namespace myelin
