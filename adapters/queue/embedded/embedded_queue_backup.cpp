#include "adapters/queue/embedded/embedded_queue_backup.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <unistd.h>

#include <cstdarg>
#include <filesystem>
#include <memory>

#include "adapters/queue/embedded/embedded_queue_keys.h"

namespace ptp {
namespace {

namespace fs = std::filesystem;

Status sync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error(Code::kSystemError, "cannot open " + p.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::Error(Code::kSystemError, "cannot sync " + p.string());
  return Status::Ok();
}

// Reading a backup leaves it as it is: no LOG file written into it.
class SilentLogger final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

bool same(const StoreContents& a, const StoreContents& b) {
  if (a.messages != b.messages || a.payload_bytes != b.payload_bytes ||
      a.acked_ids != b.acked_ids || a.released_sessions != b.released_sessions ||
      a.queues.size() != b.queues.size())
    return false;
  for (size_t i = 0; i < a.queues.size(); ++i)
    if (a.queues[i].key != b.queues[i].key || a.queues[i].messages != b.queues[i].messages)
      return false;
  return true;
}

}  // namespace

Status read_store_contents(const std::string& dir, StoreContents& out) {
  out = StoreContents{};
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::Error(Code::kSystemError, "no queue store at " + dir + ": not a directory");
  rocksdb::Options o;
  o.create_if_missing = false;
  o.info_log = std::make_shared<SilentLogger>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(o, dir, &raw);
  if (!s.ok())
    return Status::Error(Code::kSystemError,
                         "cannot read queue store " + dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  out.sequence = db->GetLatestSequenceNumber();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const ParsedKey k = parse_key({it->key().data(), it->key().size()});
    if (k.kind == 'm') {
      out.messages += 1;
      out.payload_bytes += it->value().size();
      if (out.queues.empty() || out.queues.back().key != k.queue)
        out.queues.push_back({k.queue, 0, k.offset, k.offset});
      out.queues.back().messages += 1;
      out.queues.back().last_offset = k.offset;
    } else if (k.kind == 'd') {
      out.acked_ids += 1;
    } else if (k.kind == 'r') {
      out.released_sessions += 1;
    }
  }
  if (!it->status().ok())
    return Status::Error(Code::kSystemError,
                         "cannot read queue store " + dir + ": " + it->status().ToString());
  return Status::Ok();
}

Status empty_or_missing(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  if (!fs::is_directory(dir, ec))
    return Status::Error(Code::kBadRequest, dir + " exists and is not a directory");
  if (!fs::is_empty(dir, ec) || ec) return Status::Error(Code::kBadRequest, dir + " is not empty");
  return Status::Ok();
}

Status copy_store(const std::string& from, const std::string& to, StoreContents& copied) {
  StoreContents source;
  if (Status st = read_store_contents(from, source); !st.ok()) return st;
  if (Status st = empty_or_missing(to); !st.ok()) return st;
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Status::Error(Code::kSystemError, "cannot create " + to + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file()) continue;  // a store directory holds files only
    const fs::path target = fs::path(to) / entry.path().filename();
    fs::copy_file(entry.path(), target, fs::copy_options::none, ec);
    if (ec)
      return Status::Error(Code::kSystemError,
                           "cannot copy " + entry.path().string() + ": " + ec.message());
    if (Status st = sync_path(target, false); !st.ok()) return st;
  }
  if (ec) return Status::Error(Code::kSystemError, "cannot list " + from + ": " + ec.message());
  if (Status st = sync_path(to, true); !st.ok()) return st;
  if (Status st = read_store_contents(to, copied); !st.ok()) return st;
  if (!same(source, copied))
    return Status::Error(Code::kSystemError,
                         "the copy in " + to + " does not hold what " + from + " holds");
  return Status::Ok();
}

}  // namespace ptp
