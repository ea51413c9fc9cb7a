// Internal: per-thread packing buffers of the GEMM drivers (gemm.cc's float panels, gemm_mixed_bf16.cc's bf16
// pairs), 64-byte aligned, grown on demand and reused across calls. Header-only; include it from driver units
// built without ISA flags only.
#pragma once
#include <cstddef>
#include <cstdlib>

namespace myelin {

template <class T>
class PackBuffers {
 public:
  PackBuffers() = default;
  PackBuffers(const PackBuffers&) = delete;
  PackBuffers& operator=(const PackBuffers&) = delete;
  ~PackBuffers() {
    std::free(a_);
    std::free(b_);
  }
  T* a(std::size_t n) { return ensure(&a_, &a_cap_, n); }
  T* b(std::size_t n) { return ensure(&b_, &b_cap_, n); }

 private:
  static T* ensure(T** buf, std::size_t* cap, std::size_t n) {
    if (n > *cap) {
      std::free(*buf);
      const std::size_t bytes = (n * sizeof(T) + 63) & ~static_cast<std::size_t>(63);
      // Pad by one cache line so consecutive buffers do not alias at 4 KiB strides.
      *buf = static_cast<T*>(std::aligned_alloc(64, bytes + 64));
      *cap = *buf != nullptr ? n : 0;
      if (*buf == nullptr) std::abort();  // out of memory: nothing sensible to return
    }
    return *buf;
  }
  T* a_ = nullptr;
  T* b_ = nullptr;
  std::size_t a_cap_ = 0;
  std::size_t b_cap_ = 0;
};

}  // namespace myelin
