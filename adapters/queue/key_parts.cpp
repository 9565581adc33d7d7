#include "adapters/queue/key_parts.h"

#include <charconv>

namespace ptp {

std::string join_key_parts(std::initializer_list<std::string_view> parts) {
  std::string out;
  size_t n = 0;
  for (auto p : parts) n += p.size() + 21;
  out.reserve(n);
  for (auto p : parts) {
    out += std::to_string(p.size());
    out += ':';
    out += p;
  }
  return out;
}

std::optional<std::vector<std::string>> split_key_parts(std::string_view key) {
  std::vector<std::string> parts;
  while (!key.empty()) {
    size_t len = 0;
    auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), len);
    if (ec != std::errc() || p == key.data() || p == key.data() + key.size() || *p != ':')
      return std::nullopt;
    key.remove_prefix(static_cast<size_t>(p - key.data()) + 1);
    if (len > key.size()) return std::nullopt;
    parts.emplace_back(key.substr(0, len));
    key.remove_prefix(len);
  }
  return parts;
}

}  // namespace ptp
