// The queue sink of the pipeline (docs/queues.md): the container-facing interfaces
// push/pop/peek/release on the local inbox, remote pushes into the outbox, and queued
// messages arriving from peer gateways (an invoke to `ptp/queue/push`).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <string_view>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config.h"
#include "gateway/exchange/exchange.h"
#include "gateway/queue/waiting_pops.h"

namespace ptp {

class Outbox;

// The x-ptp-uri of a queued message travelling from the sender's outbox to the target.
inline constexpr std::string_view kQueuePushUri = "ptp/queue/push";
// Extension metadata of queued messages.
inline constexpr std::string_view kMessageIdKey = "message-id";
inline constexpr std::string_view kMessageOffsetKey = "message-offset";
inline constexpr std::string_view kMessageTopicKey = "message-topic";
inline constexpr std::string_view kMessageTopicBackKey = "message-topic-back";

class QueueService {
 public:
  // `outbox` may be null: pushes to other nodes are then refused with E0000000614.
  // With `to_egress`, messages addressed to this node go to the one inbox queue an
  // EgressDrainer hands to the attached platform (Kafka egress topic); pops find nothing.
  QueueService(QueueStore& inbox, Outbox* outbox, bool to_egress = false)
      : inbox_(inbox), outbox_(outbox), to_egress_(to_egress), waiting_pops_(inbox) {}

  // Shutdown: pops waiting for a message answer "no message" now; later pops do not wait.
  void drain() { waiting_pops_.drain(); }

  // push/pop/peek/release from a local container; `done` runs on `ex`. The request has
  // passed the pipeline's admission (validation, token, source node = this node).
  void handle(const Config& cfg, Request req, Responder done, boost::asio::any_io_executor ex);

  // A message from a peer's outbox (invoke, x-ptp-uri ptp/queue/push, addressed to us):
  // stored in the inbox before the answer, idempotently by (source node, message id).
  void accept_remote(const Config& cfg, Request req, Responder done,
                     boost::asio::any_io_executor ex);

  // A push of a message whose header, metadata (message-topic; message-id, filled in when
  // missing) and payload are in `env`, from this node's platform: to the local inbox or
  // sink, or through the outbox to another node. done(status, message id) may run on
  // any thread. Used by push and by the Kafka ingress.
  using Submitted = std::function<void(Status, const std::string& message_id)>;
  void submit(const Config& cfg, Envelope env, std::chrono::milliseconds wait, Submitted done);

  // Sync -> async (docs/queues.md "Sync and async"): a unary invoke to a node reachable
  // only asynchronously is pushed to it (topic = x-ptp-uri, message-topic-back = a fresh
  // reply topic) and answered with the first message on the reply topic, or E0000000601
  // after `timeout`. The reply topic is one whose queue this gateway serves (a replica of
  // a Kafka inbox serves only its partitions: QueueStore::served_topic).
  void invoke_async(ConfigPtr cfg, Request req, std::chrono::milliseconds timeout, Responder done,
                    boost::asio::any_io_executor ex);
  // Called with the queue key after a message for this node was stored in the inbox (a
  // local push, a message from a peer, or a submit() to this node), before the pusher is
  // answered; not called for messages diverted to the egress queue. The router server
  // (gateway/rs/rs_host.h) learns of its jobs this way. Runs on a store thread: it must be
  // quick and must not block. Set it before the gateway serves requests.
  using LocalStored = std::function<void(const QueueKey&)>;
  void set_on_local_stored(LocalStored cb) { on_local_stored_ = std::move(cb); }

 private:
  void push(const Config& cfg, Request req, Responder done, boost::asio::any_io_executor ex);
  void store_local(const Config& cfg, const QueueKey& key, QueuedMessage msg,
                   std::chrono::milliseconds wait, QueueStore::Done done);
  // invoke_async once its reply topic is picked: the push, then the wait for the reply.
  void push_and_await_reply(const Config& cfg, Envelope env, std::string reply_topic,
                            std::chrono::milliseconds timeout, Responder answer);

  QueueStore& inbox_;
  Outbox* outbox_;
  bool to_egress_;
  LocalStored on_local_stored_;
  WaitingPops waiting_pops_;
};

// Random 32-hex-digit id for messages pushed without one.
std::string new_message_id();

}  // namespace ptp
