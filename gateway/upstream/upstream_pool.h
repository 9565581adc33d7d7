// Pooled, kept-alive HTTP/2 connections to next hops, one pool per I/O thread (so a
// connection and the streams using it never cross threads).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/upstream/h2_client_session.h"
#include "gateway/upstream/pinned_peer.h"
#include "gateway/upstream/upstream_key.h"

namespace ptp {

class Metrics;

class UpstreamPool {
 public:
  // Connections to one next hop per I/O thread, at most. Beyond, a request goes on the least
  // busy one, where nghttp2 holds it until the hop's stream limit lets it go: a next hop
  // that advertises a tiny stream limit or holds its streams open cannot make this gateway
  // open connection after connection (descriptors, memory). 8 x the usual 100 streams.
  static constexpr size_t kMaxConnectionsPerHop = 8;

  using GetCallback = std::function<void(std::shared_ptr<H2ClientSession>, Status)>;
  UpstreamPool(boost::asio::any_io_executor ex, Metrics* metrics);
  ~UpstreamPool();

  // A usable connection to ep that is open already, else null (then use get()). Cheap:
  // no allocation, for the per-request path.
  H2ClientSession* ready(const Endpoint& ep, const TlsClientConfig& tls);

  // A usable connection to `name` (a peer node id or service) at ep, connecting when needed.
  void get(const std::string& name, const Endpoint& ep, const TlsClientConfig& tls,
           std::chrono::milliseconds connect_timeout, std::chrono::milliseconds keepalive,
           GetCallback cb);

  // Closes the connections to ep (whatever their TLS settings): the streams on them end
  // with E0000000607 "connection lost: <why>" (an address of a peer that failed its health
  // checks, gateway/upstream/peer_health).
  void close(const Endpoint& ep, const std::string& why);

  // The pool's client TLS context for these settings (built once, kept for the pool's
  // lifetime; also used for HTTP/1.1 peers). Null with `err` set when a file cannot be loaded.
  boost::asio::ssl::context* tls_context(const TlsClientConfig& tls, Status& err);

 private:
  struct Entry {
    std::vector<std::shared_ptr<H2ClientSession>> sessions;
    bool connecting = false;
    std::vector<GetCallback> waiters;
  };
  // Connections are shared per host, port and TLS server name.
  static UpstreamKeyView key_of(const Endpoint& ep, const TlsClientConfig& tls) {
    return {ep.host, ep.port, tls.enabled, tls.enabled ? tls.server_name : std::string_view()};
  }
  Entry& entry(const Endpoint& ep, const TlsClientConfig& tls);

  boost::asio::any_io_executor ex_;
  Metrics* metrics_;
  UpstreamMap<Entry> entries_;  // Entry& is stable
  struct TlsContext {
    std::unique_ptr<PinnedPeer> pin;  // declared first: outlives ctx, which points at it
    std::unique_ptr<boost::asio::ssl::context> ctx;
  };
  std::unordered_map<std::string, TlsContext> tls_;
};

}  // namespace ptp
