// The peering service (docs/peering.md): answers net/weave and net/ack on the PTP port,
// sends the joins and acks, serves the operator's peer routes on the admin port, and lays
// the dynamic peer table over the configuration (ConfigStore's overlay). Its work (the
// certificate and signature checks, the store's writes, the client calls) runs on a
// thread of its own: an I/O thread or the admin thread only posts to it and is answered
// through its own executor.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "codecs/interface.h"
#include "gateway/config/config_store.h"
#include "gateway/exchange/exchange.h"
#include "gateway/observability/json_log.h"
#include "gateway/peering/handshake.h"
#include "gateway/peering/peer_store.h"

namespace ptp {

class JsonLog;
class EvidenceLog;

// An admin request for the peer routes and its answer (HTTP status, JSON body); `respond`
// is called exactly once, on the peering thread.
struct PeeringAdminRequest {
  std::string method;  // GET, POST, DELETE
  std::string path;    // "/peers", "/peers/invite", "/peers/B/disable", "/v1/interconn/net/refresh"
  std::string body;
};
using PeeringAdminRespond = std::function<void(unsigned status, std::string body)>;

class PeeringService {
 public:
  // Retries of an ack that did not get through, and the pause before the first retry
  // (doubling).
  static constexpr int kAckAttempts = 5;
  // Weave and ack requests (unauthenticated, up to 64 KiB each) waiting for or in the
  // peering thread; more are refused at once with E0000000700, so a flood cannot queue
  // memory without bound behind one slow check.
  static constexpr int kMaxPendingHandshakes = 64;
  static constexpr std::chrono::milliseconds kAckFirstRetry{500};

  PeeringService(ConfigStore& config, std::unique_ptr<PeerStore> store, HandshakeCrypto crypto,
                 JsonLog& log);
  ~PeeringService();  // stop()s
  PeeringService(const PeeringService&) = delete;
  PeeringService& operator=(const PeeringService&) = delete;

  // Peer changes are recorded there as audit events (docs/evidence.md); call before start().
  void set_evidence(EvidenceLog* evidence) { evidence_ = evidence; }
  // Installs the overlay on the ConfigStore and starts the peering thread.
  void start();
  // Stops the thread; pending calls are dropped. Idempotent.
  void stop();

  // A weave or ack body from the PTP port: answered through `done`, posted to `reply_ex`.
  void serve(Interface iface, std::string body, boost::asio::any_io_executor reply_ex,
             Responder done);

  // The operator's routes (docs/peering.md "Admin routes").
  void admin(PeeringAdminRequest req, PeeringAdminRespond respond);

  PeerStore& store() { return *store_; }

 private:
  void handle_admin(const PeeringAdminRequest& req, const PeeringAdminRespond& respond);
  void peers(const PeeringAdminRespond& respond);
  void invite(const std::string& body, const PeeringAdminRespond& respond);
  void join(const std::string& body, const PeeringAdminRespond& respond);
  void peer_action(const std::string& node_id, const std::string& action, const std::string& body,
                   const PeeringAdminRespond& respond);
  void net_refresh(const std::string& body, const PeeringAdminRespond& respond);
  void node_refresh(const std::string& body, const PeeringAdminRespond& respond);
  void send_ack(PeerRecord joiner, std::string code, int attempt);
  int64_t now() const;

  ConfigStore& config_;
  std::unique_ptr<PeerStore> store_;
  HandshakeCrypto crypto_;
  JsonLog& log_;
  EvidenceLog* evidence_ = nullptr;
  // An audit record (kind audit) of a peer change: event, node, then `more`.
  void audit(std::string_view event, std::string_view node,
             std::initializer_list<std::pair<std::string_view, std::string_view>> more = {});
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  bool started_ = false;
  std::atomic<int> pending_handshakes_{0};
  // Refused weaves and acks come from anyone: at most ten lines a second (peering thread).
  LogThrottle refusal_log_{std::chrono::milliseconds(100)};
  void log_refusal(const char* what, const Status& st);
};

// The JSON of an admin error: {"code":"E...","message":...}.
std::string admin_error_json(const Status& st);

}  // namespace ptp
