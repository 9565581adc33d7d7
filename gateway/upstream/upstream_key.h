// Where an upstream connection goes: host, port, whether TLS, and the name TLS verifies.
// Both connection pools (HTTP/2 sessions, HTTP/1.1 connections) are maps keyed by it:
// a lookup takes views, so a request builds no key string; the map keeps owned copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ptp {

struct UpstreamKeyView {
  std::string_view host;
  uint16_t port = 0;
  bool tls = false;
  std::string_view server_name;  // empty without TLS
  bool operator==(const UpstreamKeyView&) const = default;
};

struct UpstreamKey {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  std::string server_name;
  explicit UpstreamKey(const UpstreamKeyView& v)
      : host(v.host), port(v.port), tls(v.tls), server_name(v.server_name) {}
  operator UpstreamKeyView() const { return {host, port, tls, server_name}; }
};

struct UpstreamKeyHash {
  using is_transparent = void;
  size_t operator()(const UpstreamKeyView& k) const {
    size_t h = std::hash<std::string_view>{}(k.host);
    h ^= (static_cast<size_t>(k.port) << 1) ^ (k.tls ? 0x9e3779b97f4a7c15u : 0);
    if (k.tls) h ^= std::hash<std::string_view>{}(k.server_name) * 31;
    return h;
  }
  size_t operator()(const UpstreamKey& k) const { return (*this)(UpstreamKeyView(k)); }
};

struct UpstreamKeyEq {
  using is_transparent = void;
  bool operator()(const UpstreamKeyView& a, const UpstreamKeyView& b) const { return a == b; }
};

// Nodes stay put: a reference to a value stays valid while its entry exists.
template <class V>
using UpstreamMap = std::unordered_map<UpstreamKey, V, UpstreamKeyHash, UpstreamKeyEq>;

}  // namespace ptp
