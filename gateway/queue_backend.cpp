#include "gateway/queue_backend.h"

#include <filesystem>

#include "adapters/queue/embedded_queue_store.h"

namespace ptp {

std::unique_ptr<QueueStore> open_queue_store(const QueueConfig& q, const std::string& data_dir,
                                             const std::string& name, Status& error) {
  if (q.backend == QueueBackend::kKafka) {
    error = Status::Error(Code::kNotPermitted,
                          "queue.store kafka is not available in this build yet; use embedded");
    return nullptr;
  }
  EmbeddedQueueOptions o;
  o.path = (std::filesystem::path(data_dir) / name).string();
  o.sync = q.sync;
  o.limits = q.limits;
  auto store = EmbeddedQueueStore::open(o, error);
  return store;
}

}  // namespace ptp
