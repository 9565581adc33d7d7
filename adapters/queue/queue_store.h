// The queue store behind push/pop/peek/release (docs/architecture.md, "Queues behind one
// interface"). Two implementations: embedded RocksDB (default) and Kafka. One
// conformance suite (tests/unit/adapters/test_queue_conformance.cpp) runs against both.
//
// Semantics (docs/queues.md):
// - One FIFO queue per QueueKey (node, session, topic). Offsets increase per queue.
// - push() calls done only after the message is durable. A message id already in the
//   queue (or acknowledged within the dedup window) is acknowledged again, not stored twice.
// - pop() leases the head message: it is hidden from other pops but not deleted. The
//   caller ack()s it once the client has it, or nack()s it to put it back at the head.
//   Leases do not survive a restart: an un-acked message is delivered again.
// - peek() returns the head without leasing or removing it.
// - release() drops a session (or one topic of it); later push/pop/peek on a released
//   session answer E0000000608.
// Threading: every method is thread-safe and non-blocking. Callbacks run exactly once,
// on a store thread or inline; the store holds none of its locks while calling them, so
// a callback may call the store again. Callbacks must be quick (post real work elsewhere).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "codecs/envelope.h"
#include "codecs/status.h"

namespace ptp {

struct QueueKey {
  std::string node;     // the node that pops the queue (the message's target node)
  std::string session;  // x-ptp-session-id
  std::string topic;    // message-topic

  auto operator<=>(const QueueKey&) const = default;
  bool operator==(const QueueKey&) const = default;
};

struct QueuedMessage {
  std::string message_id;  // idempotency key within the queue; never empty
  Envelope env;            // PTP header, extension metadata and payload (env.body)
  uint64_t offset = 0;     // assigned by the store on push (ignored on input)
};

struct QueueLimits {
  uint64_t max_message_bytes = 64ull << 20;  // payload; larger → E0000000413
  // Queued bytes: each message's footprint (payload, header, metadata and a fixed
  // overhead; queue_bookkeeping::footprint), per session and per store → 700.
  uint64_t max_session_bytes = 1ull << 30;
  uint64_t max_total_bytes = 8ull << 30;
  // Queued bytes of the messages one other node sent (source node != the queue's node):
  // one peer cannot fill the store for every other peer and the local containers. 0: no
  // per-source limit (the outbox, whose messages all come from this node).
  uint64_t max_source_bytes = 2ull << 30;
  // Queued bytes of the messages waiting for one node (the queue's node, QueueKey::node):
  // in the outbox, a target that never takes its messages (down, answering errors) cannot
  // fill the store for the other targets. 0: no per-target limit (the inbox, whose queues
  // are all this node's).
  uint64_t max_target_bytes = 0;
  uint64_t max_session_messages = 100'000;              // queued messages of one session → 700
  std::chrono::seconds session_idle_expiry{24 * 3600};  // untouched session is dropped
  std::chrono::seconds dedup_window{3600};              // acked message ids remembered this long
  // At most this many acked ids are remembered (per store); beyond it the oldest leave
  // the window early, so memory stays bounded at any message rate.
  size_t dedup_max_ids = 1'000'000;
};

struct QueueStats {
  uint64_t queues = 0;
  uint64_t messages = 0;  // stored, including leased
  uint64_t bytes = 0;     // footprints of the messages stored (queue_bookkeeping::footprint)
  // Since the store was opened:
  uint64_t redeliveries = 0;  // leased messages put back (nack): they are handed out again
  uint64_t deduplicated = 0;  // pushes acknowledged without storing (id already queued/acked)
};

// What one node's queues hold (QueueStore::backlog): the node pops them (inbox: this
// node; outbox: the target node the messages wait for).
struct NodeBacklog {
  std::string node;
  uint64_t messages = 0;  // stored, including leased
  uint64_t bytes = 0;     // footprints
  // Unix milliseconds when the oldest of them was stored (0: none). A store that does not
  // keep it on disk counts messages found at open from the open.
  int64_t oldest_ms = 0;
};

// One queue as an operator sees it (QueueStore::list_queues; admin GET /queues/list).
struct QueueInfo {
  QueueKey key;
  uint64_t messages = 0;  // stored, including leased
  uint64_t bytes = 0;     // footprints of those messages (queue_bookkeeping::footprint)
  uint64_t leased = 0;    // of them handed out to a pop and not acknowledged yet
  int64_t oldest_ms = 0;  // unix ms when the oldest was stored (0: none; see NodeBacklog)
};

// Which queues list_queues() lists: an empty field matches any.
struct QueueFilter {
  std::string node;
  std::string session;
  std::string topic;
  size_t limit = 1000;  // at most this many, in key order (node, session, topic)
};

// A stored message as peek_messages() shows it, without leasing it.
struct PeekedMessage {
  QueuedMessage msg;
  bool leased = false;    // handed out to a pop, not acknowledged yet
  int64_t stored_ms = 0;  // unix ms when it was stored (see NodeBacklog::oldest_ms)
};

class QueueStore {
 public:
  using Done = std::function<void(Status)>;
  using MessageDone = std::function<void(Status, std::optional<QueuedMessage>)>;

  virtual ~QueueStore() = default;

  // Appends msg durably. When the session or the store is full, waits up to `wait` for
  // space, then answers E0000000700. Oversize → 413; released session → 608.
  virtual void push(const QueueKey& key, QueuedMessage msg, std::chrono::milliseconds wait,
                    Done done) = 0;

  // Leases the head message, waiting up to `timeout` for one; on timeout done(Ok,
  // nullopt). Returns a ticket for cancel_pop().
  virtual uint64_t pop(const QueueKey& key, std::chrono::milliseconds timeout,
                       MessageDone done) = 0;
  // The popping client went away: a still-waiting pop answers done(Ok, nullopt) now.
  // (If it already answered with a message, the caller nack()s that message.)
  virtual void cancel_pop(uint64_t ticket) = 0;

  // Delivered: delete the leased message for good (its id stays in the dedup window).
  virtual void ack(const QueueKey& key, uint64_t offset) = 0;
  // Not delivered: the leased message goes back to the head of its queue.
  virtual void nack(const QueueKey& key, uint64_t offset) = 0;

  // The head message (not leased, not removed), or done(Ok, nullopt) when empty.
  virtual void peek(const QueueKey& key, MessageDone done) = 0;

  // Drops every queue of (node, session), or only `topic` of it, with unread messages.
  // Releasing the whole session makes later use of it answer E0000000608.
  virtual void release(const std::string& node, const std::string& session,
                       std::optional<std::string> topic, Done done) = 0;

  // A topic of (node, session) whose queue this store serves pops of: `base`, or `base`
  // with a suffix. Every topic fits a store of its own; a store shared by replicas (Kafka,
  // replica_count > 1: each replica serves the queues of its partitions,
  // docs/queues-kafka.md "Replicas") picks one in its share, so a fresh topic it will pop
  // (an invoke's reply topic) is not served by another replica. done(Ok, topic), or an
  // error when none fits (done may run inline).
  using TopicDone = std::function<void(Status, std::string)>;
  virtual void served_topic(const std::string& node, const std::string& session, std::string base,
                            TopicDone done) {
    (void)node;
    (void)session;
    done(Status::Ok(), std::move(base));
  }

  virtual QueueStats stats() const = 0;

  // Per node, the nodes with messages; costs one pass over the queues (for scrapes, not for
  // the request path). Empty when the store does not know (the Kafka store).
  virtual std::vector<NodeBacklog> backlog() const { return {}; }

  // OK, or why the store cannot take writes now (E0000000602: disk full, write errors);
  // reads (pop, peek) are served meanwhile and writes resume once it recovers.
  virtual Status health() const { return Status::Ok(); }

  // The nodes that had queued messages when the store was opened (possibly a superset; a
  // store may look them up when first asked, so ask right after opening): after a
  // restart, whoever drains queues per node resumes these.
  virtual std::vector<std::string> nodes_at_open() const = 0;

  // The queues of `node` that hold messages (ready or leased), in key order; done runs
  // once the store knows them (the Kafka store attaches the node first). The outbox asks
  // after a restart, to resume each (target, session) queue.
  using KeysDone = std::function<void(Status, std::vector<QueueKey>)>;
  virtual void queues_of(const std::string& node, KeysDone done) = 0;

  // Inspection (docs/queues.md "Inspecting queues"; admin /queues/list, /queues/peek,
  // /queues/purge). A store that cannot answers E0000000400 saying so (the defaults).

  // The queues matching `filter` that hold messages, in key order, at most filter.limit;
  // `truncated` when more match. Costs a pass over the queues (not for the request path).
  using ListDone = std::function<void(Status, std::vector<QueueInfo>, bool truncated)>;
  virtual void list_queues(const QueueFilter& filter, ListDone done) {
    (void)filter;
    done(Status::Error(Code::kBadRequest, "this queue store cannot list its queues"), {}, false);
  }

  // The first `count` stored messages of one queue in offset order, leased ones included
  // (flagged), without leasing, removing or touching anything (idle expiry goes on). A
  // released session answers E0000000608. May read from disk: not on an I/O thread.
  using PeekDone = std::function<void(Status, std::vector<PeekedMessage>)>;
  virtual void peek_messages(const QueueKey& key, size_t count, PeekDone done) {
    (void)key;
    (void)count;
    done(Status::Error(Code::kBadRequest, "this queue store cannot peek several messages"), {});
  }

  // Deletes the stored messages (ready and leased) of one queue, or of every topic of
  // (node, session) when `topic` is empty, durably before done; `purged` counts them.
  // Unlike release(), the session stays usable (no E0000000608 afterwards), waiting pops
  // keep waiting, offsets go on increasing and acknowledged ids stay in the dedup window.
  // A push not yet durable when the purge is asked is not purged.
  using PurgeDone = std::function<void(Status, uint64_t purged)>;
  virtual void purge(const std::string& node, const std::string& session,
                     std::optional<std::string> topic, PurgeDone done) {
    (void)node;
    (void)session;
    (void)topic;
    done(Status::Error(Code::kBadRequest, "this queue store cannot purge queues"), 0);
  }

  // A consistent copy of the store in `dir` (which must not exist), taken while the store
  // keeps serving: it holds every push acknowledged before the call (and none acked by a
  // pop before it). Blocks until the copy is complete: call it on a thread of its own,
  // never an I/O thread. Stores that cannot (Kafka: its topics are the data) answer
  // E0000000400 saying so.
  virtual Status backup(const std::string& dir) {
    (void)dir;
    return Status::Error(Code::kBadRequest, "this queue store keeps no local data to back up");
  }
};

}  // namespace ptp
