#include "adapters/queue/embedded/embedded_queue_keys.h"

#include <vector>

namespace ptp {
namespace {

std::string queue_prefix(char kind, const QueueKey& k) {
  std::string s(1, kind);
  s.reserve(4 + k.node.size() + k.session.size() + k.topic.size() + 8);
  s += k.node;
  s += '\0';
  s += k.session;
  s += '\0';
  s += k.topic;
  s += '\0';
  return s;
}

// Splits the NUL-separated parts after the kind letter.
std::vector<std::string_view> split_key(std::string_view key) {
  std::vector<std::string_view> parts;
  key.remove_prefix(1);
  while (true) {
    auto z = key.find('\0');
    if (z == std::string_view::npos) {
      parts.push_back(key);
      return parts;
    }
    parts.push_back(key.substr(0, z));
    key.remove_prefix(z + 1);
  }
}

QueueKey queue_of(const std::vector<std::string_view>& parts) {
  return {std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

}  // namespace

std::string message_key(const QueueKey& k, uint64_t offset) {
  std::string s = queue_prefix('m', k);
  for (int i = 7; i >= 0; --i) s += static_cast<char>((offset >> (8 * i)) & 0xff);
  return s;
}

std::string offset_key(const QueueKey& k) { return queue_prefix('o', k); }

std::string dedup_key(const QueueKey& k, const std::string& id) {
  return queue_prefix('d', k) + id;
}

std::string release_key(const SessionKey& s) {
  return std::string("r") + s.first + '\0' + s.second + '\0';
}

ParsedKey parse_key(std::string_view k) {
  ParsedKey p;
  if (k.empty()) return p;
  // Message keys end in 8 binary offset bytes (which may hold NULs): cut them first.
  const bool message = k[0] == 'm' && k.size() > 9 && k[k.size() - 9] == '\0';
  auto parts = split_key(message ? k.substr(0, k.size() - 9) : k);
  if (message && parts.size() == 3) {
    p.queue = queue_of(parts);
    for (unsigned char c : k.substr(k.size() - 8)) p.offset = (p.offset << 8) | c;
  } else if ((k[0] == 'o' || k[0] == 'd') && parts.size() == 4) {
    p.queue = queue_of(parts);
    if (k[0] == 'd') p.id = std::string(parts[3]);
  } else if (k[0] == 'r' && parts.size() >= 2) {
    p.session = {std::string(parts[0]), std::string(parts[1])};
  } else {
    return p;
  }
  p.kind = k[0];
  return p;
}

}  // namespace ptp
