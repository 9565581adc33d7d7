// The delivery of the outbox to one target node (docs/queues.md "Node to node: the
// outbox"): one FIFO queue per (target, session) in the outbox store, delivered
// independently, so a session the target cannot take now (E0000000700) or a message it
// refuses waits or leaves without holding up the other sessions.
//
// Scheduling: the sessions that have messages take turns (round robin): a session
// delivers its head message, then goes to the back of the line. At most
// queue.outbox_concurrency forwards are in flight to the target, at most one per
// session, so each session's messages arrive in order. A session whose delivery failed
// backs off on its own (queue.retry_min .. retry_max, doubling) while the others go on.
// All state lives on one executor (a single-threaded io_context).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config_store.h"
#include "gateway/queue/queue_drainer.h"

namespace ptp {

class JsonLog;

class OutboxLane : public std::enable_shared_from_this<OutboxLane> {
 public:
  using Outcome = QueueDrainer::Outcome;
  using Finish = QueueDrainer::Finish;
  using Deliver = QueueDrainer::Deliver;

  // The outbox queue of (target, session).
  static QueueKey key_for(const std::string& target, const std::string& session) {
    return {target, session, ""};
  }

  // `deliver` runs on `ex`, never after stop() or after the executor stopped.
  OutboxLane(QueueStore& store, boost::asio::any_io_executor ex, std::string target,
             ConfigStore& config, JsonLog& log, Deliver deliver);
  OutboxLane(const OutboxLane&) = delete;
  OutboxLane& operator=(const OutboxLane&) = delete;

  // From any thread: `session` has (or may have) messages waiting.
  void notify(const std::string& session);
  // From any thread: the sessions backing off try again now, from the first backoff step
  // (the target's next hop moved to a live address).
  void retry_now();
  // From any thread; a message being delivered stays queued unless it was accepted.
  void stop();

 private:
  struct Session {
    bool queued = false;  // in line_
    bool busy = false;    // its head is being read or delivered
    bool again = false;   // notified while busy: look again when done
    std::chrono::milliseconds backoff{0};
    std::unique_ptr<boost::asio::steady_timer> timer;  // while backing off
  };

  void wake(const std::string& session);
  void pump();
  void enqueue(const std::string& name, Session& s);
  void on_popped(const std::string& name, Status st, std::optional<QueuedMessage> m);
  void on_finished(const std::string& name, uint64_t offset, Outcome o);
  void back_off(const std::string& name, Session& s);
  void idle(const std::string& name, Session& s);

  QueueStore& store_;
  boost::asio::any_io_executor ex_;
  const std::string target_;
  ConfigStore& config_;
  JsonLog& log_;
  Deliver deliver_;
  // Touched on ex_ only.
  std::map<std::string, Session> sessions_;  // with messages, in flight or backing off
  std::deque<std::string> line_;             // ready sessions, in turn order
  int in_flight_ = 0;
  bool stopped_ = false;
};

}  // namespace ptp
