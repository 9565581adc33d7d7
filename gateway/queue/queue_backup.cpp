#include "gateway/queue/queue_backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "adapters/queue/embedded/embedded_queue_backup.h"
#include "common/version.h"
#include "gateway/observability/admin_auth.h"

namespace ptp {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json contents_json(const StoreContents& c) {
  Json queues = Json::array();
  for (const StoredQueue& q : c.queues) {
    if (queues.size() >= kBackupListedQueues) break;
    queues.push_back({{"node", q.key.node},
                      {"session", q.key.session},
                      {"topic", q.key.topic},
                      {"messages", q.messages},
                      {"first_offset", q.first_offset},
                      {"last_offset", q.last_offset}});
  }
  return {{"messages", c.messages},     {"payload_bytes", c.payload_bytes},
          {"acked_ids", c.acked_ids},   {"released_sessions", c.released_sessions},
          {"sequence", c.sequence},     {"queue_count", c.queues.size()},
          {"queues", std::move(queues)}};
}

// Written, synced, then renamed into place: a backup.json is always whole.
Status write_synced(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  for (size_t off = 0; ok && off < text.size();) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    ok = n > 0;
    if (ok) off += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) return Status::Error(Code::kSystemError, "cannot write " + path.string());
  const int dfd = ::open(path.parent_path().c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

unsigned http_of(const Status& st) { return st.code == Code::kBadRequest ? 400 : 500; }

}  // namespace

QueueBackup::QueueBackup(Stores stores, std::string node_id, JsonLog& log)
    : stores_(std::move(stores)), node_id_(std::move(node_id)), log_(log) {}

QueueBackup::~QueueBackup() {
  std::thread last;
  {
    std::lock_guard lock(mu_);
    last = std::move(worker_);
  }
  if (last.joinable()) last.join();  // without mu_: the thread takes it as it ends
}

void QueueBackup::handle(AdminRequest req, AdminRespond respond) {
  if (!req.path_rest.empty())
    return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
  const Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("dir") || !body["dir"].is_string())
    return respond(400, admin_error_json(Code::kBadRequest,
                                         "expected a JSON body {\"dir\": \"/absolute/path\"}"));
  const std::string dir = body["dir"].get<std::string>();
  if (dir.empty() || dir[0] != '/')
    return respond(400, admin_error_json(Code::kBadRequest,
                                         "dir must be an absolute path on the gateway's host"));
  if (Status st = empty_or_missing(dir); !st.ok())
    return respond(400, admin_error_json(st.code, "backup dir " + st.message));
  std::lock_guard lock(mu_);
  if (busy_)
    return respond(409, admin_error_json(Code::kBadRequest, "a backup is running; try later"));
  busy_ = true;
  if (worker_.joinable()) worker_.join();  // the previous one, finished
  worker_ = std::thread([this, dir, respond = std::move(respond)]() mutable {
    run(dir, std::move(respond));
    std::lock_guard done(mu_);
    busy_ = false;
  });
}

void QueueBackup::run(std::string dir, AdminRespond respond) {
  const int64_t started = now_ms();
  log_.info("queue backup started", {.extra = {{"dir", dir}}});
  Json stores = Json::object();
  Status st;
  std::error_code ec;
  const bool created = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) st = Status::Error(Code::kSystemError, "cannot create " + dir + ": " + ec.message());
  for (const auto& [name, store] : stores_) {
    if (!st.ok()) break;
    const std::string sub = (fs::path(dir) / name).string();
    st = store->backup(sub);
    StoreContents contents;
    if (st.ok()) st = read_store_contents(sub, contents);
    if (st.ok()) stores[name] = contents_json(contents);
  }
  Json summary = {{"dir", dir},
                  {"node", node_id_},
                  {"gateway", version_line("ptp-gateway")},
                  {"started_ms", started},
                  {"finished_ms", now_ms()},
                  {"stores", std::move(stores)}};
  const std::string text = summary.dump();
  if (st.ok()) st = write_synced(fs::path(dir) / kBackupSummaryFile, text + "\n");
  if (!st.ok()) {
    // Nothing half-made is left for a restore to pick up.
    if (created)
      fs::remove_all(dir, ec);
    else
      for (const auto& [name, store] : stores_) fs::remove_all(fs::path(dir) / name, ec);
    log_.error("queue backup failed", {.extra = {{"dir", dir}, {"error", st.message}}});
    return respond(http_of(st), admin_error_json(st.code, st.message));
  }
  log_.info("queue backup done",
            {.extra = {{"dir", dir},
                       {"ms", std::to_string(summary["finished_ms"].get<int64_t>() - started)}}});
  respond(200, text);
}

}  // namespace ptp
