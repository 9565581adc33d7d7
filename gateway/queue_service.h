// The queue sink of the pipeline (docs/queues.md): the container-facing interfaces
// push/pop/peek/release on the local inbox, remote pushes into the outbox, and queued
// messages arriving from peer gateways (an invoke to `ptp/queue/push`).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <string_view>

#include "adapters/queue/queue_store.h"
#include "gateway/config.h"
#include "gateway/exchange.h"

namespace ptp {

class Outbox;

// The x-ptp-uri of a queued message travelling from the sender's outbox to the target.
inline constexpr std::string_view kQueuePushUri = "ptp/queue/push";
// Extension metadata of queued messages.
inline constexpr std::string_view kMessageIdKey = "message-id";
inline constexpr std::string_view kMessageOffsetKey = "message-offset";
inline constexpr std::string_view kMessageTopicKey = "message-topic";

class QueueService {
 public:
  // `outbox` may be null: pushes to other nodes are then refused with E0000000614.
  QueueService(QueueStore& inbox, Outbox* outbox) : inbox_(inbox), outbox_(outbox) {}

  // push/pop/peek/release from a local container; `done` runs on `ex`. The request has
  // passed the pipeline's admission (validation, token, source node = this node).
  void handle(const Config& cfg, Request req, Responder done, boost::asio::any_io_executor ex);

  // A message from a peer's outbox (invoke, x-ptp-uri ptp/queue/push, addressed to us):
  // stored in the inbox before the answer, idempotently by (source node, message id).
  void accept_remote(const Config& cfg, Request req, Responder done,
                     boost::asio::any_io_executor ex);

 private:
  void push(const Config& cfg, Request req, Responder done, boost::asio::any_io_executor ex);

  QueueStore& inbox_;
  Outbox* outbox_;
};

// Random 32-hex-digit id for messages pushed without one.
std::string new_message_id();

}  // namespace ptp
