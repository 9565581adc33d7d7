// The admin port's POST /queues/backup (docs/operations.md, "Backup and restore"): a
// consistent copy of the gateway's queue stores taken while it serves, answered once
// complete with what the copy holds.
//   body   {"dir": "/absolute/path"}   (must not exist, or be an empty directory)
//   answer {"dir":..., "node":..., "gateway":"ptp-gateway 0.1.0 (<commit>)",
//           "started_ms":..., "finished_ms":...,
//           "stores":{"inbox":{"messages","payload_bytes","acked_ids","released_sessions",
//                     "sequence","queues":[{"node","session","topic","messages",
//                     "first_offset","last_offset"}...]}, "outbox":{...}}}
// The directory then holds inbox/ and outbox/ (the layout of a data directory: a gateway
// started with --data-dir on a copy of it serves those messages) and backup.json (the
// answer). One backup at a time (another meanwhile: HTTP 409); it runs on a thread of its
// own, never on the admin I/O thread.
#pragma once

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "gateway/observability/admin_server.h"
#include "gateway/observability/json_log.h"

namespace ptp {

// The name of the summary file a backup directory holds.
inline constexpr const char* kBackupSummaryFile = "backup.json";
// At most this many queues are listed per store in the summary (the counts cover all).
inline constexpr size_t kBackupListedQueues = 1000;

class QueueBackup {
 public:
  using Stores = std::vector<std::pair<std::string, QueueStore*>>;  // name -> store
  QueueBackup(Stores stores, std::string node_id, JsonLog& log);
  ~QueueBackup();  // waits for a running backup
  QueueBackup(const QueueBackup&) = delete;
  QueueBackup& operator=(const QueueBackup&) = delete;

  // The admin route (POST /queues/backup).
  void handle(AdminRequest req, AdminRespond respond);

 private:
  void run(std::string dir, AdminRespond respond);

  const Stores stores_;
  const std::string node_id_;
  JsonLog& log_;
  std::mutex mu_;
  bool busy_ = false;   // guarded by mu_
  std::thread worker_;  // the last backup's thread; guarded by mu_
};

}  // namespace ptp
