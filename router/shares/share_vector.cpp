#include "router/shares/share_vector.h"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ptp::shares {
namespace {

int checked_bits(int ring_bits) {
  if (ring_bits != 64 && ring_bits != 128) {
    throw std::invalid_argument("share vector: ring must be Z_2^64 or Z_2^128, got " +
                                std::to_string(ring_bits) + " bits");
  }
  return ring_bits;
}

u128 load_le(const uint8_t* p, size_t n) {
  u128 v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, n);
  } else {
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  }
  return v;
}

void store_le(uint8_t* p, u128 v, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, n);
  } else {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}

}  // namespace

ShareVector::ShareVector(int ring_bits, size_t size) : bits_(checked_bits(ring_bits)), v_(size) {}

ShareVector ShareVector::from_bytes(int ring_bits, std::span<const uint8_t> bytes) {
  const size_t width = static_cast<size_t>(checked_bits(ring_bits)) / 8;
  if (bytes.size() % width != 0) {
    throw std::invalid_argument("share vector: " + std::to_string(bytes.size()) +
                                " bytes is not a whole number of " + std::to_string(width) +
                                "-byte elements");
  }
  ShareVector out(ring_bits, bytes.size() / width);
  for (size_t i = 0; i < out.size(); ++i) out.v_[i] = load_le(bytes.data() + i * width, width);
  return out;
}

void ShareVector::write(std::span<uint8_t> out) const {
  const size_t width = element_bytes();
  if (out.size() != size() * width) {
    throw std::invalid_argument("share vector: output buffer has " + std::to_string(out.size()) +
                                " bytes, need " + std::to_string(size() * width));
  }
  for (size_t i = 0; i < size(); ++i) store_le(out.data() + i * width, v_[i], width);
}

std::vector<uint8_t> ShareVector::to_bytes() const {
  std::vector<uint8_t> out(size() * element_bytes());
  write(out);
  return out;
}

i128 ShareVector::to_signed(size_t i) const {
  if (bits_ == 64) return static_cast<int64_t>(static_cast<uint64_t>(v_[i]));
  return static_cast<i128>(v_[i]);  // two's complement (C++20)
}

std::pair<ShareVector, ShareVector> split(const ShareVector& v, Prg& prg) {
  ShareVector a(v.ring_bits(), v.size()), b(v.ring_bits(), v.size());
  prg.fill({reinterpret_cast<uint8_t*>(a.v_.data()), a.v_.size() * sizeof(u128)});
  const u128 mask = v.mask();
  for (size_t i = 0; i < v.size(); ++i) {
    a.v_[i] &= mask;
    b.v_[i] = (v.v_[i] - a.v_[i]) & mask;
  }
  return {std::move(a), std::move(b)};
}

ShareVector sum(std::span<const ShareVector> parts) {
  if (parts.empty()) throw std::invalid_argument("share vector: sum of no parts");
  const ShareVector& first = parts.front();
  for (size_t p = 1; p < parts.size(); ++p) {
    if (parts[p].ring_bits() != first.ring_bits() || parts[p].size() != first.size()) {
      throw std::invalid_argument(
          "share vector: part " + std::to_string(p) + " is " + std::to_string(parts[p].size()) +
          " elements over Z_2^" + std::to_string(parts[p].ring_bits()) + ", part 0 is " +
          std::to_string(first.size()) + " over Z_2^" + std::to_string(first.ring_bits()));
    }
  }
  ShareVector out(first.ring_bits(), first.size());
  for (const ShareVector& part : parts) {
    const auto values = part.values();
    for (size_t i = 0; i < out.size(); ++i) out.set(i, out.get(i) + values[i]);
  }
  return out;
}

}  // namespace ptp::shares
