// The health checker of peers with several addresses (peers[i].addresses; docs/operations.md
// "Failover"): on its own thread, every address of such a peer is checked every
// health.interval_ms (address_probe); an address is down after health.fall failed checks
// and up after health.rise good ones (address_health), and traffic goes to the first
// address that is up (else the first). The choice is published in the running config
// snapshot's AddressChoice of the peer, which the I/O threads read lock-free per request;
// every snapshot the store publishes gets the current choice before it is visible, so a
// reload keeps a failover. Metrics: ptp_peer_address_up, ptp_peer_failovers_total.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/config/config_store.h"
#include "gateway/upstream/address_health.h"

namespace ptp {

class Metrics;
class JsonLog;
class UpstreamPool;

// Traffic of `peer` moved from one address to another.
struct PeerMove {
  std::string peer;
  Endpoint from;
  Endpoint to;
  bool from_down = false;  // `from` failed its checks (else: the preferred one came back)
  std::string why;         // one line: the address, its state and the last check's reason
};

class PeerHealth {
 public:
  using OnMove = std::function<void(const PeerMove&)>;

  // Registers the metric families on `metrics` and the store's prepare hook; `store`,
  // `metrics` and `log` outlive it (metrics: its last render()).
  PeerHealth(ConfigStore& store, Metrics& metrics, JsonLog& log);
  ~PeerHealth();
  PeerHealth(const PeerHealth&) = delete;
  PeerHealth& operator=(const PeerHealth&) = delete;

  // Runs on the checker's thread after each move (the composition root closes the
  // connections to an address that went down and wakes the outbox). Set before start().
  void set_on_move(OnMove f) { on_move_ = std::move(f); }
  void start();
  void stop();  // idempotent; no on_move after it returns

 private:
  struct Peer;
  using PeerPtr = std::shared_ptr<Peer>;

  // The prepare hook: the choices carried into `next`, then the checks follow it.
  void prepare(const ConfigPtr& next);
  void follow(const ConfigPtr& cfg);  // checker thread
  void schedule(const PeerPtr& p, size_t i, std::chrono::milliseconds after);
  void check(const PeerPtr& p, size_t i);
  void on_result(const PeerPtr& p, size_t i, const Status& st);

  ConfigStore& store_;
  Metrics& metrics_;
  JsonLog& log_;
  OnMove on_move_;
  boost::asio::io_context io_{1};
  std::unique_ptr<UpstreamPool> tls_;  // the checks' TLS contexts (checker thread)
  std::thread thread_;
  bool started_ = false;
  mutable std::mutex mu_;  // guards peers_ and every Peer's states, chosen, failovers
  std::map<std::string, PeerPtr> peers_;
};

}  // namespace ptp
