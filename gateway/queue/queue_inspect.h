// The admin port's queue inspection (docs/observability.md, docs/queues.md "Inspecting
// queues"), behind `ptpctl queues list|peek|purge|dead-letters`:
//   GET  /queues/list?store=inbox|outbox&node=&session=&topic=&limit=&dead_letters=1
//        -> {"queues":[{"store","node","session","topic","messages","bytes","leased",
//            "oldest_ms"}],"truncated":bool}
//   GET  /queues/peek?store=&node=&session=&topic=&count=
//        -> {"messages":[{"message_id","offset","size","source","target","stored_ms",
//            "leased","metadata":{...},"preview":"first 256 bytes"}]}
//   POST /queues/purge {"store","node","session","topic"(optional),"confirm":"<session>"}
//        -> {"purged":N}
// Every one needs the operator credential (peek shows payloads). The store work runs on a
// thread of its own, one request at a time (a few wait; beyond: 503), never on the admin
// I/O thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "gateway/observability/admin_server.h"
#include "gateway/observability/json_log.h"

namespace ptp {

// Defaults and bounds of the routes' parameters.
inline constexpr size_t kInspectListDefault = 1000;
inline constexpr size_t kInspectListMax = 10000;
inline constexpr size_t kInspectPeekDefault = 10;
inline constexpr size_t kInspectPeekMax = 100;
inline constexpr size_t kInspectPreviewBytes = 256;

class QueueInspect {
 public:
  using Stores = std::vector<std::pair<std::string, QueueStore*>>;  // "inbox", "outbox"
  // `dead_letter_topic` answers the current queue.dead_letter_topic (called per request).
  QueueInspect(Stores stores, std::string node_id, std::function<std::string()> dead_letter_topic,
               JsonLog& log);
  ~QueueInspect();  // finishes the request being worked on; those waiting answer 503
  QueueInspect(const QueueInspect&) = delete;
  QueueInspect& operator=(const QueueInspect&) = delete;

  // The admin routes.
  void list(AdminRequest req, AdminRespond respond);
  void peek(AdminRequest req, AdminRespond respond);
  void purge(AdminRequest req, AdminRespond respond);

 private:
  QueueStore* store(const std::string& name) const;
  // Runs `work` on the worker thread; 503 through `respond` when too many wait.
  void post(std::function<void()> work, AdminRespond& respond);
  void run();

  const Stores stores_;
  const std::string node_id_;
  const std::function<std::string()> dead_letter_topic_;
  JsonLog& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                                // guarded by mu_
  std::deque<std::pair<std::function<void()>, AdminRespond>> work_;  // guarded by mu_
  std::thread worker_;
};

}  // namespace ptp
