// The permit service (docs/authorization.md "Permits"): issues, lists and revokes the
// permits this node grants as a resource holder, keeps those it holds as a grantee, and
// counts the uses of presented permits durably. Its work (signing, the store's synced
// writes) runs on a thread of its own, like the peering service's: an I/O thread checks a
// presented permit's format, signature, scope and time itself (PermitChecker), then asks
// this thread to count one use and continues the request when the answer is posted back.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codecs/status.h"
#include "gateway/config/config_store.h"
#include "gateway/observability/json_log.h"
#include "gateway/permits/permit_store.h"
#include "trust/node_key.h"
#include "trust/permit.h"

namespace ptp {

// The permits this node holds, for the I/O threads: immutable, replaced as a whole.
using HeldPermits = std::vector<Permit>;

// An admin request for the permit routes; `respond` is called exactly once, on the permit
// thread.
struct PermitAdminRequest {
  std::string method;  // GET, POST, DELETE
  std::string path;    // "/permits", "/permits/held", "/permits/<id>"
  std::string body;
};
using PermitAdminRespond = std::function<void(unsigned status, std::string body)>;
// Called with an audit event's name and fields (permit_issued, permit_revoked,
// permit_refused); may be empty.
using PermitAudit = std::function<void(
    std::string_view event, const std::vector<std::pair<std::string, std::string>>& fields)>;

class PermitService {
 public:
  // Uses waiting for or in the permit thread; more are refused at once with E0000000700.
  static constexpr int kMaxPendingUses = 4096;

  PermitService(ConfigStore& config, std::unique_ptr<PermitStore> store, NodeKey key,
                PublicKey own_key, JsonLog& log);
  ~PermitService();  // stop()s
  PermitService(const PermitService&) = delete;
  PermitService& operator=(const PermitService&) = delete;

  void start();
  void stop();  // pending calls are dropped; idempotent
  void set_audit(PermitAudit audit) { audit_ = std::move(audit); }

  // This node's public key: what its permits verify with.
  const PublicKey& own_key() const { return own_key_; }

  // Counts one use of issued permit `id` durably, unless it is unknown here, revoked or
  // used up; `done` gets Ok or E0000000614 saying which, posted to `reply_ex`.
  void use(std::string id, boost::asio::any_io_executor reply_ex, std::function<void(Status)> done);

  // The permits this node holds (never null). Cheap: a shared pointer copy.
  std::shared_ptr<const HeldPermits> held() const;
  bool holds_any() const { return holds_any_.load(std::memory_order_relaxed); }

  void admin(PermitAdminRequest req, PermitAdminRespond respond);

 private:
  void handle_admin(const PermitAdminRequest& req, const PermitAdminRespond& respond);
  void issue(const std::string& body, const PermitAdminRespond& respond);
  void list(const PermitAdminRespond& respond);
  void add_held(const std::string& body, const PermitAdminRespond& respond);
  void remove(const std::string& id, const PermitAdminRespond& respond);
  Status count_use(const std::string& id);
  void publish_held();
  void audit(std::string_view event, std::vector<std::pair<std::string, std::string>> fields);

  ConfigStore& config_;
  std::unique_ptr<PermitStore> store_;
  NodeKey key_;
  PublicKey own_key_;
  JsonLog& log_;
  PermitAudit audit_;
  // permit_refused records: per permit id at most one a second (permit thread only).
  static constexpr size_t kMaxRefusalThrottles = 4096;
  std::unordered_map<std::string, LogThrottle> refused_audit_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  bool started_ = false;
  std::atomic<int> pending_uses_{0};
  mutable std::mutex held_mu_;
  std::shared_ptr<const HeldPermits> held_;
  std::atomic<bool> holds_any_{false};
};

}  // namespace ptp
