// The connections of the HTTP/1.1 client (gateway/upstream/http1_client.h), per host: at most
// `limit` open at a time (in use + idle); requests beyond it wait, first come first
// served, for one to be released. Released connections stay idle for reuse, so a steady
// load keeps its connections instead of closing and reopening them.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "gateway/upstream/http1_read_buffer.h"
#include "gateway/upstream/upstream_key.h"

namespace ptp::http1 {

using Clock = std::chrono::steady_clock;

// One connection, plain or TLS.
struct Conn {
  std::optional<boost::asio::ip::tcp::socket> plain;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls;
  ReadBuffer buf;
  Clock::time_point idle_since;

  boost::asio::ip::tcp::socket& lowest() { return tls ? tls->next_layer() : *plain; }
  template <class F>
  void with_stream(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*plain);
  }
  void close();
  // A pooled connection is stale when the server closed it (FIN pending) or sent bytes
  // nobody asked for. TLS may legitimately have records pending (session tickets).
  // A recently used one is not probed (a recv per request under load): servers do not
  // drop connections that fast, and if one did, the client's retry on a fresh
  // connection covers it (http1_client.cpp).
  bool looks_alive(bool recently_used);
};

using ConnPtr = std::shared_ptr<Conn>;

// A request waiting for a connection slot.
class ConnWaiter {
 public:
  virtual ~ConnWaiter() = default;
  // The slot is granted: `c` is an idle connection to reuse, or nullptr for "open a new
  // one". False if the request gave up meanwhile; the slot then goes to the next waiter.
  virtual bool grant(ConnPtr c) = 0;
};

// Where the connections of one pool entry go; fixed when the entry is made.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  std::string server_name;  // TLS: SNI and verified name (default: host)
  std::string authority;    // host:port, for Host and messages
};

class ConnPool {
  struct Host;
  // Idle for less than this: reused without probing the socket (Conn::looks_alive).
  static constexpr std::chrono::milliseconds kRecentlyUsed{50};

 public:
  // One entry per endpoint; entries live as long as the pool, so callers keep the handle.
  class HostRef {
   public:
    const Endpoint& endpoint() const;

   private:
    friend class ConnPool;
    explicit HostRef(Host* h) : h_(h) {}
    Host* h_;
  };

  explicit ConnPool(std::chrono::milliseconds max_idle_time) : max_idle_time_(max_idle_time) {}

  // The entry for this endpoint (looked up by its fields, made on first use).
  HostRef host(std::string_view host, uint16_t port, bool tls, std::string_view server_name);

  // Takes a slot: true with `reuse` set to a live idle connection, or to nullptr when a
  // new connection may be opened; false when `limit` connections are open, and `w` is
  // queued until release() grants it a slot.
  bool acquire(HostRef h, size_t limit, ConnPtr& reuse, std::weak_ptr<ConnWaiter> w);
  // Gives a slot back: `c` (if not null) is reusable and is handed to the next waiter or
  // kept idle; nullptr means the slot's connection is gone (a waiter may open a new one).
  void release(HostRef h, ConnPtr c);
  // Closes the idle connections; later releases close theirs.
  void close_all();
  size_t idle() const;

 private:
  struct Host {
    Endpoint endpoint;
    std::deque<ConnPtr> idle;  // oldest first
    size_t busy = 0;           // slots held by requests (connecting or in use)
    size_t limit = 1;
    std::deque<std::weak_ptr<ConnWaiter>> waiters;
  };
  void drop_expired(Host& h, Clock::time_point now);

  std::chrono::milliseconds max_idle_time_;
  UpstreamMap<Host> hosts_;  // Host* handed out in HostRefs stays valid
  bool closed_ = false;
};

}  // namespace ptp::http1
