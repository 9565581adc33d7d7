#include "codecs/base64.h"

#include <array>
#include <cstdint>

namespace ptp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> make_reverse(const char* alphabet) {
  std::array<int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return r;
}
constexpr auto kReverse = make_reverse(kAlphabet);
constexpr auto kUrlReverse = make_reverse(kUrlAlphabet);

// Both write into a string sized once (no append per character): base64 runs over every
// evidence proof on the request path (docs/benchmarks.md).
std::string encode(std::string_view in, const char* alphabet, bool pad) {
  const size_t full = in.size() / 3, rest = in.size() % 3;
  std::string out(full * 4 + (rest == 0 ? 0 : pad ? 4 : rest + 1), '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (size_t g = 0; g < full; ++g, p += 3, o += 4) {
    const uint32_t v = (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[(v >> 12) & 63];
    o[2] = alphabet[(v >> 6) & 63];
    o[3] = alphabet[v & 63];
  }
  if (rest > 0) {
    uint32_t v = uint32_t(p[0]) << 16;
    if (rest == 2) v |= uint32_t(p[1]) << 8;
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    if (rest == 2) *o++ = alphabet[(v >> 6) & 63];
    if (pad) {
      *o++ = '=';
      if (rest == 1) *o++ = '=';
    }
  }
  return out;
}

// `in` without padding.
std::optional<std::string> decode(std::string_view in, const std::array<int8_t, 256>& reverse) {
  if (in.size() % 4 == 1) return std::nullopt;
  const size_t full = in.size() / 4, rest = in.size() % 4;
  std::string out(full * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  char* o = out.data();
  for (size_t g = 0; g < full; ++g, p += 4, o += 3) {
    const int8_t a = reverse[p[0]], b = reverse[p[1]], c = reverse[p[2]], d = reverse[p[3]];
    if ((a | b | c | d) < 0) return std::nullopt;
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    o[0] = static_cast<char>(v >> 16);
    o[1] = static_cast<char>((v >> 8) & 0xff);
    o[2] = static_cast<char>(v & 0xff);
  }
  if (rest > 0) {
    const int8_t a = reverse[p[0]], b = reverse[p[1]], c = rest == 3 ? reverse[p[2]] : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6);
    // Leftover bits must be zero, or the text was not produced by an encoder.
    if ((rest == 2 ? v & 0xffff : v & 0xff) != 0) return std::nullopt;
    o[0] = static_cast<char>(v >> 16);
    if (rest == 3) o[1] = static_cast<char>((v >> 8) & 0xff);
  }
  return out;
}

}  // namespace

std::string base64_encode(std::string_view in) { return encode(in, kAlphabet, true); }

std::optional<std::string> base64_decode(std::string_view in) {
  size_t pad = 0;
  while (!in.empty() && in.back() == '=' && pad < 2) {
    in.remove_suffix(1);
    ++pad;
  }
  if (pad > 0 && (in.size() + pad) % 4 != 0) return std::nullopt;
  return decode(in, kReverse);
}

std::string base64url_encode(std::string_view in) { return encode(in, kUrlAlphabet, false); }

std::optional<std::string> base64url_decode(std::string_view in) { return decode(in, kUrlReverse); }

}  // namespace ptp
