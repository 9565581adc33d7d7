// The durable outbox of remote pushes (docs/queues.md): one FIFO per (target node,
// session) in its own QueueStore, delivered by an OutboxLane per target (sessions take
// turns, a bounded number of forwards in flight) that forwards each session's head
// message to the target's gateway as an invoke of `ptp/queue/push` and removes it only
// once the target has stored it. Failures back off per session; a message refused for
// good by the target (refused_for_good) or past its expiry becomes a dead letter in the
// sender's own inbox (gateway/queue/dead_letter.h) before it leaves the outbox.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config_store.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/message_signing.h"
#include "gateway/evidence/root_keys.h"
#include "gateway/exchange/exchange.h"
#include "gateway/forward/source_tokens.h"
#include "gateway/observability/json_log.h"
#include "gateway/queue/outbox_lane.h"
#include "gateway/upstream/http1_client.h"
#include "gateway/upstream/upstream_pool.h"

namespace prometheus {
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace ptp {

class Metrics;

// Extension metadata: unix time after which an outbox message becomes a dead letter.
inline constexpr std::string_view kOutboxExpiryKey = "x-ptp-outbox-expiry";

class Outbox {
 public:
  // Stores a dead letter (a message to this node); done(status) from any thread.
  using DeadLetterSink = std::function<void(Envelope, QueueStore::Done)>;

  Outbox(QueueStore& store, boost::asio::any_io_executor ex, ConfigStore& config, Metrics& metrics,
         JsonLog& log);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Where dead letters go (the QueueService's submit to this node). Set before resume()
  // and before the gateway serves requests.
  void set_dead_letter_sink(DeadLetterSink sink) { dead_letters_ = std::move(sink); }
  // Called with each forward's envelope just before it is sent, on the outbox's executor
  // (the composition root: the permit a push presents to its target). Set before resume().
  using ForwardHook = std::function<void(Envelope&)>;
  void set_forward_hook(ForwardHook hook) { forward_hook_ = std::move(hook); }
  // The evidence log the signed pushes and their receipts are recorded in (null: none).
  // Set before resume().
  void set_evidence_log(EvidenceLog* log);

  // Stores msg durably for `target` (then done(Ok)) and makes its session's queue drain.
  void push(const std::string& target, QueuedMessage msg, std::chrono::milliseconds wait,
            QueueStore::Done done);
  // Resumes every (target, session) queue with messages left from an earlier run.
  void resume(const std::vector<std::string>& targets);
  // A next hop moved to another address (gateway/upstream/peer_health): the connections to
  // `down` (when set) are closed, their forwards retried, and every session backing off
  // tries again now. From any thread.
  void next_hop_moved(std::optional<Endpoint> down, std::string why);
  // Stops the lanes; in-flight forwards are abandoned (the messages stay stored).
  void stop();

  static QueueKey key_for(const std::string& target, const std::string& session) {
    return OutboxLane::key_for(target, session);
  }

 private:
  class Forward;
  std::shared_ptr<OutboxLane> lane(const std::string& target);
  // The target's receipt of an acknowledged signed push: checked against its pinned root
  // (a missing or bad one is logged, at most a line a second: the target chooses its
  // receipts, and we push at our own rate; the push was delivered either way).
  void check_receipt(const ConfigPtr& cfg, const std::string& target, const QueuedMessage& m,
                     const Digest32& leaf, const Response& r);
  EvidenceLog* records_ = nullptr;

  QueueStore& store_;
  boost::asio::any_io_executor ex_;
  ConfigStore& config_;
  Metrics& metrics_;
  JsonLog& log_;
  UpstreamPool h2_;
  Http1ClientPool h1_;
  DeadLetterSink dead_letters_;
  ForwardHook forward_hook_;
  SourceTokens source_tokens_;  // s1 tokens of the forwards (on ex_ only)
  MessageSigning signing_;      // signatures of the forwards, receipts checked (on ex_ only)
  RootKeys root_keys_;          // the targets' pinned roots' keys (on ex_ only)
  LogThrottle receipt_log_;     // receipts that do not verify (on ex_ only)
  prometheus::Family<prometheus::Counter>& dead_letter_count_;  // {code}
  std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<OutboxLane>> lanes_;
};

}  // namespace ptp
