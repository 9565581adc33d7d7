// Additive shares over the ring Z_2^l (l = 64 or 128): vectors of l-bit elements, read from and
// written to buffers of little-endian integers (l/8 bytes each), split into two uniformly
// random parts and summed back. Element storage is unsigned __int128 for both rings (values
// kept reduced mod 2^l); every buffer is wiped (OPENSSL_cleanse) when freed.
#pragma once

#include <openssl/crypto.h>

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "router/shares/prg.h"

namespace ptp::shares {

using u128 = unsigned __int128;
using i128 = __int128;

// std::allocator that zeroes memory before releasing it, so no copy of a share outlives its
// vector (including buffers dropped on reallocation).
template <typename T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

class ShareVector {
 public:
  // `size` zeros. ring_bits must be 64 or 128 (std::invalid_argument otherwise).
  ShareVector(int ring_bits, size_t size);

  // One element per ring_bits/8 little-endian bytes; the length must be a whole number of
  // elements.
  static ShareVector from_bytes(int ring_bits, std::span<const uint8_t> bytes);
  // Writes size() * element_bytes() bytes; `out` must be exactly that long.
  void write(std::span<uint8_t> out) const;
  std::vector<uint8_t> to_bytes() const;

  int ring_bits() const { return bits_; }
  size_t size() const { return v_.size(); }
  size_t element_bytes() const { return static_cast<size_t>(bits_) / 8; }

  u128 get(size_t i) const { return v_[i]; }
  // Stores v mod 2^l (so a signed value cast to u128 is stored in two's complement).
  void set(size_t i, u128 v) { v_[i] = v & mask(); }
  // Element i read as a signed l-bit two's complement integer.
  i128 to_signed(size_t i) const;

  std::span<const u128> values() const { return v_; }
  // All ones in the low l bits.
  u128 mask() const { return bits_ == 128 ? ~u128{0} : (u128{1} << 64) - 1; }

 private:
  friend std::pair<ShareVector, ShareVector> split(const ShareVector&, Prg&);
  int bits_;
  std::vector<u128, WipingAllocator<u128>> v_;
};

// a uniform in Z_2^l (from prg), b = v - a mod 2^l: each part alone is uniformly random and
// independent of v; a + b = v.
std::pair<ShareVector, ShareVector> split(const ShareVector& v, Prg& prg);

// Element-wise sum mod 2^l. All parts must have the same ring and size, and there must be at
// least one (std::invalid_argument otherwise).
ShareVector sum(std::span<const ShareVector> parts);

}  // namespace ptp::shares
