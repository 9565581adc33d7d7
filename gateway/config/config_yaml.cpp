// The YAML helpers of the configuration loader (config_yaml.h).
#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {
namespace {

constexpr size_t kMaxIdLength = 128;

bool parse_port(std::string_view s, uint16_t& out) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

}  // namespace

[[noreturn]] void fail(const std::string& path, std::string message) {
  throw ConfigError{path, std::move(message)};
}

std::string quote_value(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

std::string kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar " + quote_value(n.Scalar());
    default:
      return "nothing";
  }
}

std::string index_path(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

void check_id(const std::string& path, const std::string& id) {
  if (id.empty()) fail(path, "must not be empty");
  if (id.size() > kMaxIdLength) {
    fail(path, "longer than " + std::to_string(kMaxIdLength) + " characters");
  }
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok)
      fail(path, "invalid id " + quote_value(id) + " (allowed characters: A-Z a-z 0-9 . _ : -)");
  }
}

Endpoint parse_host_port(const std::string& path, const std::string& s) {
  const std::string expected =
      "expected \"host:port\" with a port from 1 to 65535, got " + quote_value(s);
  Endpoint ep;
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      fail(path, expected);
    }
    host = std::string_view(s).substr(1, close - 1);
    port = std::string_view(s).substr(close + 2);
    if (host.find(':') == std::string_view::npos) fail(path, expected);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) fail(path, expected);
    host = std::string_view(s).substr(0, colon);
    port = std::string_view(s).substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      fail(path, expected + " (write IPv6 as [addr]:port)");
  }
  if (!valid_host(host) || !parse_port(port, ep.port)) fail(path, expected);
  ep.host = std::string(host);
  return ep;
}

std::chrono::milliseconds positive_ms(const Section& s, std::string_view key,
                                      std::chrono::milliseconds def) {
  constexpr int64_t kMaxMs = 24LL * 3600 * 1000;  // one day
  return std::chrono::milliseconds(s.integer(key, def.count(), 1, kMaxMs));
}

PeerProtocol protocol(const Section& s, std::string_view key, PeerProtocol def) {
  auto v = s.opt_string(key);
  if (!v) return def;
  PeerProtocol p{};
  if (!parse_peer_protocol(*v, p)) {
    fail(s.at(key), "unknown protocol " + quote_value(*v) + " (expected http2, grpc or http1)");
  }
  return p;
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::none_of(host.begin(), host.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '[' || c == ']' || c == '@' ||
           c == '?' || c == '#' || c == 0x7f;
  });
}

std::optional<GrpcErrors> grpc_errors(const Section& s, std::string_view key) {
  auto v = s.opt_string(key);
  if (!v) return std::nullopt;
  GrpcErrors e{};
  if (!parse_grpc_errors(*v, e))
    fail(s.at(key), "unknown value " + quote_value(*v) + " (expected message or status)");
  return e;
}

std::optional<AuthMode> auth_mode(const Section& s, std::string_view key, bool allow_none) {
  auto v = s.opt_string(key);
  if (!v) return std::nullopt;
  AuthMode m{};
  if (!parse_auth_mode(*v, m))
    fail(s.at(key), "unknown mode " + quote_value(*v) +
                        " (expected signature, hmac, passthrough or none)");
  if (m == AuthMode::kNone && !allow_none)
    fail(s.at(key), "mode none accepts every request unchecked (tests only); it needs "
                    "auth.allow_none: true");
  return m;
}

}  // namespace ptp::config_yaml
