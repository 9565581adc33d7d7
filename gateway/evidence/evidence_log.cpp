#include "gateway/evidence/evidence_log.h"

#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "codecs/base64.h"
#include "common/release_token.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "trust/evidence_chain.h"

namespace ptp {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kCheckpointInterval{10};
// How long the writer lets records gather after the first one woke it, unless that many
// are queued already.
constexpr std::chrono::microseconds kCoalesce{1000};
constexpr size_t kCoalesceRecords = 4096;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(int e) { return std::strerror(e); }

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool sync_dir(const std::string& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return d && ::fsync(d.get()) == 0;
}

// The last complete line of the file open as `fd` (of `size` bytes), and the size of the
// file up to the end of that line (a partial line after it is what a crash during a write
// leaves). Empty `line` when the file has no complete line.
bool read_last_line(int fd, uint64_t size, std::string& line, uint64_t& good_size,
                    std::string& error) {
  std::string buf;
  uint64_t chunk = 64 << 10;
  for (;;) {
    const uint64_t from = size > chunk ? size - chunk : 0;
    buf.resize(size - from);
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(from + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = n < 0 ? errno_text(errno) : "short read";
        return false;
      }
      got += static_cast<size_t>(n);
    }
    const size_t last_nl = buf.rfind('\n');
    if (last_nl == std::string::npos) {
      if (from == 0) {  // no complete line at all
        line.clear();
        good_size = 0;
        return true;
      }
      chunk *= 4;
      continue;
    }
    const size_t start = last_nl == 0 ? std::string::npos : buf.rfind('\n', last_nl - 1);
    if (start == std::string::npos && from > 0) {
      chunk *= 4;  // the line starts before this chunk
      continue;
    }
    const size_t b = start == std::string::npos ? 0 : start + 1;
    line = buf.substr(b, last_nl - b);
    good_size = from + last_nl + 1;
    return true;
  }
}

void add_field(std::string& t, std::string_view key, std::string_view value) {
  t += ',';
  append_json_string(t, key);
  t += ':';
  append_json_string(t, value);
}

struct Item {
  std::string kind;
  int64_t time_ms = 0;  // taken under the queue's lock: in seq order (unless the clock steps)
  std::string text;     // ,"kind":"..",fields...
};

}  // namespace

struct EvidenceLog::Impl {
  Impl(const EvidenceConfig& cfg, DigestAlgorithm alg, std::shared_ptr<const NodeKey> key,
       JsonLog& log, Metrics& metrics)
      : dir(cfg.dir),
        key(std::move(key)),
        log(log),
        hasher(alg),
        records_family(prometheus::BuildCounter()
                           .Name("ptp_evidence_records_total")
                           .Help("Evidence log records written, by kind")
                           .Register(metrics.registry())),
        lag(prometheus::BuildGauge()
                .Name("ptp_evidence_queue_records")
                .Help("Evidence records taken and not yet written (the writer's lag)")
                .Register(metrics.registry())
                .Add({})),
        write_errors(prometheus::BuildCounter()
                         .Name("ptp_evidence_write_errors_total")
                         .Help("Evidence log write or sync errors (each retried)")
                         .Register(metrics.registry())
                         .Add({})),
        dropped(prometheus::BuildCounter()
                    .Name("ptp_evidence_records_refused_total")
                    .Help("Evidence records not taken (queue full, or the log failing with "
                          "on_failure refuse)")
                    .Register(metrics.registry())
                    .Add({})) {
    apply(cfg);
  }

  void apply(const EvidenceConfig& cfg) {
    max_file_bytes.store(cfg.max_file_bytes);
    sync_interval_ms.store(cfg.sync_interval.count());
    queue_records.store(cfg.queue_records);
    refuse.store(cfg.on_failure == EvidenceOnFailure::kRefuse);
  }

  bool open_files(std::string& error);
  void run();
  void work(bool stopping);
  bool format_held();
  void format(const Item& it);  // into line and line_hash
  bool write_pending();
  bool rotate();
  bool sync();
  void failed(std::string_view what, int err);
  void count_written(std::vector<std::string>& kinds);
  bool checkpoint(bool stopping);

  const std::string dir;
  const std::shared_ptr<const NodeKey> key;
  JsonLog& log;

  std::atomic<uint64_t> max_file_bytes{0};
  std::atomic<int64_t> sync_interval_ms{0};
  std::atomic<uint32_t> queue_records{0};
  std::atomic<bool> refuse{true};

  // Shared between appenders and the writer.
  std::mutex mu;
  std::condition_variable wake;     // the writer: records, flush, stop
  std::condition_variable flushed;  // flush(): synced_total moved
  std::deque<Item> queue;
  bool stop = false;
  bool writer_waiting = false;
  bool flush_requested = false;
  uint64_t taken_total = 0;            // records taken since open
  uint64_t synced_total = 0;           // of those, written and synced
  std::atomic<uint64_t> in_memory{0};  // taken and not yet written
  std::atomic<uint64_t> written{0};
  std::atomic<bool> failing{false};

  // The writer thread's own.
  Fd fd;
  uint64_t file_bytes = 0;     // bytes of the current file that are written
  uint64_t uncached_from = 0;  // of the current file: what is before was synced and dropped
  uint64_t next_seq = 1;
  std::string prev;
  Hasher hasher;
  std::deque<Item> held;  // taken from `queue`, not yet formatted
  std::string pending;    // formatted lines not yet written
  std::vector<std::string> pending_kinds;
  std::string line;       // one line being formatted (not yet part of the chain) ...
  std::string line_hash;  // ... and its hash
  bool rotate_needed = false;
  bool dirty = false;  // written, not synced
  uint64_t written_unsynced = 0;
  Clock::time_point last_sync = Clock::now();
  // Checkpoints (with a node key): written since the last one, and when that was.
  uint64_t since_checkpoint = 0;
  Clock::time_point last_checkpoint = Clock::now();
  Clock::time_point retry_at{};
  std::chrono::milliseconds backoff{100};
  LogThrottle error_log{std::chrono::seconds(5)};

  prometheus::Family<prometheus::Counter>& records_family;
  std::map<std::string, prometheus::Counter*, std::less<>> records_by_kind;
  prometheus::Gauge& lag;
  prometheus::Counter& write_errors;
  prometheus::Counter& dropped;
  std::thread writer;
};

bool EvidenceLog::Impl::open_files(std::string& error) {
  std::error_code ec;
  if (fs::create_directories(dir, ec) && !ec)
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  if (ec) {
    error = "cannot create the evidence directory " + dir + ": " + ec.message();
    return false;
  }
  std::vector<std::pair<uint64_t, std::string>> files;
  if (!list_evidence_files(dir, files, error)) return false;
  prev = evidence_zero_hash();
  next_seq = 1;
  // The chain continues from the last record of the newest file that has one.
  std::string path;
  for (size_t i = files.size(); i-- > 0;) {
    Fd f(::open(files[i].second.c_str(), O_RDWR | O_CLOEXEC));
    struct stat st {};
    if (!f || ::fstat(f.get(), &st) != 0) {
      error = "cannot open " + files[i].second + ": " + errno_text(errno);
      return false;
    }
    std::string last;
    uint64_t good = 0;
    if (!read_last_line(f.get(), static_cast<uint64_t>(st.st_size), last, good, error)) {
      error = "cannot read " + files[i].second + ": " + error;
      return false;
    }
    if (good != static_cast<uint64_t>(st.st_size)) {
      if (i + 1 != files.size() || ::ftruncate(f.get(), static_cast<off_t>(good)) != 0) {
        error = files[i].second + " ends with an incomplete line" +
                (i + 1 != files.size() ? " and is not the newest file" : ": " + errno_text(errno));
        return false;
      }
      log.warn("evidence log: cut off an incomplete last line (a write cut short)",
               {.extra = {{"file", files[i].second},
                          {"bytes", std::to_string(st.st_size - static_cast<off_t>(good))}}});
    }
    if (i + 1 == files.size()) {
      fd = std::move(f);
      file_bytes = good;
      path = files[i].second;
    }
    if (last.empty()) {
      if (i == 0) next_seq = files[i].first;
      continue;  // an empty file (just rotated to): the chain is in the one before
    }
    EvidenceRecord rec;
    std::string_view hashed;
    std::string why;
    if (!parse_evidence_line(last, rec, hashed, why)) {
      error = "cannot continue the chain: the last record of " + files[i].second +
              " is malformed: " + why;
      return false;
    }
    next_seq = rec.seq + 1;
    prev = rec.hash;
    break;
  }
  if (fd && file_bytes == 0 && files.back().first != next_seq) {
    error = files.back().second + " is empty and its name does not say the next seq " +
            std::to_string(next_seq);
    return false;
  }
  if (!fd) {
    path = dir + "/" + evidence_file_name(next_seq);
    fd = Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640));
    if (!fd) {
      error = "cannot create " + path + ": " + errno_text(errno);
      return false;
    }
    sync_dir(dir);
  }
  return true;
}

void EvidenceLog::Impl::failed(std::string_view what, int err) {
  write_errors.Increment();
  const bool first = !failing.exchange(true);
  retry_at = Clock::now() + backoff;
  backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  uint64_t suppressed = 0;
  if (first || error_log.allow(suppressed))
    log.error("evidence log cannot write, retrying (records kept in memory)",
              {.extra = {{"dir", dir},
                         {"what", std::string(what)},
                         {"error", errno_text(err)},
                         {"held", std::to_string(in_memory.load())},
                         {"suppressed", std::to_string(suppressed)}}});
}

void EvidenceLog::Impl::format(const Item& it) {
  line.clear();
  line += "{\"seq\":";
  line += std::to_string(next_seq);
  line += ",\"time_ms\":";
  line += std::to_string(it.time_ms);
  line += it.text;
  line += ",\"prev\":\"";
  line += prev;
  line += '"';
  hasher.update(line);
  line_hash = digest_hex(hasher.finish());
  line += ",\"hash\":\"";
  line += line_hash;
  line += "\"}\n";
}

bool EvidenceLog::Impl::write_pending() {
  size_t done = 0;
  while (done < pending.size()) {
    ssize_t n = ::pwrite(fd.get(), pending.data() + done, pending.size() - done,
                         static_cast<off_t>(file_bytes + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      // Cut a partial line off again; the whole of `pending` is written again later.
      if (done > 0 && ::ftruncate(fd.get(), static_cast<off_t>(file_bytes)) != 0) {
        // Still a partial line: the retry writes over it at the same offset.
      }
      failed("write", err);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  file_bytes += pending.size();
  pending.clear();
  dirty = true;
  count_written(pending_kinds);
  return true;
}

void EvidenceLog::Impl::count_written(std::vector<std::string>& kinds) {
  for (const auto& k : kinds) {
    auto it = records_by_kind.find(k);
    if (it == records_by_kind.end())
      it = records_by_kind.emplace(k, &records_family.Add({{"kind", k}})).first;
    it->second->Increment();
  }
  for (const auto& k : kinds) since_checkpoint += k != "checkpoint";
  written += kinds.size();
  written_unsynced += kinds.size();
  in_memory -= kinds.size();
  kinds.clear();
}

bool EvidenceLog::Impl::sync() {
  if (::fdatasync(fd.get()) != 0) {
    failed("fdatasync", errno);
    return false;
  }
  // What is synced leaves the page cache: nothing here reads it again (the verifier reads
  // the files later), and writing into page-cache pages freed so, rather than into ever
  // new ones, costs the writer a third of the CPU per byte (docs/benchmarks.md). Advice
  // only: a failure changes nothing.
  if (file_bytes > uncached_from) {
    ::posix_fadvise(fd.get(), static_cast<off_t>(uncached_from),
                    static_cast<off_t>(file_bytes - uncached_from), POSIX_FADV_DONTNEED);
    uncached_from = file_bytes & ~uint64_t{4095};  // a partial last page stays
  }
  dirty = false;
  last_sync = Clock::now();
  std::lock_guard<std::mutex> lk(mu);
  synced_total += written_unsynced;
  written_unsynced = 0;
  return true;
}

bool EvidenceLog::Impl::rotate() {
  rotate_needed = true;
  if (dirty && !sync()) return false;
  const std::string path = dir + "/" + evidence_file_name(next_seq);
  Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640));
  struct stat st {};
  if (!f || ::fstat(f.get(), &st) != 0) {
    const int err = errno;
    failed("create " + path, err);
    return false;
  }
  if (st.st_size != 0 && ::ftruncate(f.get(), 0) != 0) {  // left by a failed rotation
    const int err = errno;
    failed("truncate " + path, err);
    return false;
  }
  if (!sync_dir(dir)) {
    const int err = errno;
    failed("sync " + dir, err);
    return false;
  }
  fd = std::move(f);
  file_bytes = 0;
  uncached_from = 0;
  rotate_needed = false;
  return true;
}

bool EvidenceLog::Impl::format_held() {
  const uint64_t max = max_file_bytes.load(std::memory_order_relaxed);
  while (!held.empty()) {
    // The line is formatted again after a failure below, identically (its time is in the
    // item): the chain moves on only once it is in `pending`.
    format(held.front());
    if (file_bytes + pending.size() + line.size() > max && file_bytes + pending.size() > 0) {
      // Rotation: the lines so far end this file, this one starts the next.
      if (!pending.empty() && !write_pending()) return false;
      if (!rotate()) return false;
    }
    prev = line_hash;
    ++next_seq;
    pending.append(line);
    pending_kinds.push_back(std::move(held.front().kind));
    held.pop_front();
    if (pending.size() >= (1u << 20) && !write_pending()) return false;
  }
  return true;
}

// After a sync, with a node key: a checkpoint record signing the head, every
// kCheckpointInterval while records come and once more when the log stops, written and
// synced at once.
bool EvidenceLog::Impl::checkpoint(bool stopping) {
  if (!key || since_checkpoint == 0) return true;
  const auto now = Clock::now();
  if (!stopping && now - last_checkpoint < kCheckpointInterval) return true;
  const std::string sig = key->sign(evidence_checkpoint_text(next_seq, prev));
  if (sig.empty()) return true;  // OpenSSL failed: the next sync tries again
  Item it{"checkpoint", unix_ms_now(), ",\"kind\":\"checkpoint\""};
  add_field(it.text, "head", prev);
  add_field(it.text, "sig", base64_encode(sig));
  {
    std::lock_guard<std::mutex> lk(mu);
    ++in_memory;
    ++taken_total;
  }
  held.push_back(std::move(it));
  last_checkpoint = now;
  since_checkpoint = 0;
  if (!format_held() || !write_pending()) return false;
  return sync();
}

void EvidenceLog::Impl::work(bool stopping) {
  const auto now = Clock::now();
  if (failing.load() && now < retry_at && !stopping) return;
  // `pending` always belongs to the current file: it is written before a rotation.
  if (!pending.empty() && !write_pending()) return;
  if (rotate_needed && !rotate()) return;
  if (!format_held()) return;
  if (!pending.empty() && !write_pending()) return;
  bool want_sync = dirty && (stopping || flush_requested ||
                             now - last_sync >= std::chrono::milliseconds(sync_interval_ms.load()));
  if (want_sync && !sync()) return;
  if ((want_sync || stopping) && !checkpoint(stopping)) return;
  if (failing.exchange(false)) {
    backoff = std::chrono::milliseconds(100);
    log.info("evidence log writes again", {.extra = {{"dir", dir}}});
  }
}

void EvidenceLog::Impl::run() {
  std::unique_lock<std::mutex> lk(mu);
  for (;;) {
    for (;;) {
      const bool stopping = stop;
      if (stopping || !queue.empty() || flush_requested) break;
      const auto now = Clock::now();
      Clock::time_point until = Clock::time_point::max();
      if (failing.load()) until = retry_at;
      if (dirty || written_unsynced > 0)
        until = std::min(until, last_sync + std::chrono::milliseconds(sync_interval_ms.load()));
      if (!held.empty() || !pending.empty()) until = std::min(until, retry_at);
      if (until <= now) break;
      writer_waiting = true;
      if (until == Clock::time_point::max())
        wake.wait(lk);
      else
        wake.wait_until(lk, until);
      writer_waiting = false;
    }
    if (!stop && !flush_requested && queue.size() < kCoalesceRecords) {
      // Woken by a record: let more come before taking them, so that appenders (I/O
      // threads) do not wake this thread once per record (writer_waiting is false meanwhile:
      // they do not signal). Records reach the file at most kCoalesce later; the loss window
      // is sync_interval_ms anyway. flush() and stop are seen when the nap ends.
      lk.unlock();
      std::this_thread::sleep_for(kCoalesce);
      lk.lock();
    }
    const bool stopping = stop;
    if (held.empty()) {
      held.swap(queue);  // the usual case: one swap under the lock
    } else {
      while (!queue.empty()) {
        held.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    lk.unlock();
    work(stopping);
    lag.Set(static_cast<double>(in_memory.load()));
    lk.lock();
    if (flush_requested && (!dirty || failing.load())) flush_requested = false;
    flushed.notify_all();
    if (stopping && queue.empty()) {
      if ((held.empty() && pending.empty() && !dirty) || failing.load()) break;
    }
  }
}

EvidenceLog::EvidenceLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<EvidenceLog> EvidenceLog::open(const EvidenceConfig& cfg, DigestAlgorithm alg,
                                               std::shared_ptr<const NodeKey> key, JsonLog& log,
                                               Metrics& metrics, std::string& error) {
  if (cfg.dir.empty()) {
    error = "evidence.dir is empty";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(cfg, alg, std::move(key), log, metrics);
  if (!impl->open_files(error)) return nullptr;
  Impl* p = impl.get();
  std::unique_ptr<EvidenceLog> out(new EvidenceLog(std::move(impl)));
  p->writer = std::thread([p] { p->run(); });
  log.info("evidence log open", {.extra = {{"dir", p->dir},
                                           {"next_seq", std::to_string(p->next_seq)},
                                           {"digest", std::string(digest_algorithm_name(alg))}}});
  return out;
}

EvidenceLog::~EvidenceLog() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->stop = true;
    impl_->wake.notify_all();
  }
  impl_->writer.join();
  const uint64_t lost = impl_->in_memory.load();
  if (lost > 0)
    impl_->log.error("evidence log stopped with records it could not write",
                     {.extra = {{"dir", impl_->dir}, {"records", std::to_string(lost)}}});
}

bool EvidenceLog::take(std::string_view kind, std::string&& text) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lk(m.mu);
  if (m.stop || m.in_memory.load(std::memory_order_relaxed) >= m.queue_records.load() ||
      (m.failing.load() && m.refuse.load())) {
    lk.unlock();
    m.dropped.Increment();
    return false;
  }
  m.queue.push_back(Item{std::string(kind), unix_ms_now(), std::move(text)});
  ++m.in_memory;
  ++m.taken_total;
  if (m.writer_waiting) m.wake.notify_one();
  return true;
}

namespace {

std::string record_text(std::string_view kind, size_t reserve) {
  std::string t;
  t.reserve(16 + kind.size() + reserve);
  t += ",\"kind\":";
  append_json_string(t, kind);
  return t;
}

}  // namespace

bool EvidenceLog::append(std::string_view kind, std::initializer_list<EvidenceField> fields) {
  return append(kind, std::span<const EvidenceField>(fields.begin(), fields.size()));
}

bool EvidenceLog::append(std::string_view kind, std::span<const EvidenceField> fields) {
  size_t n = 0;
  for (const auto& f : fields) n += f.key.size() + f.value.size() + 6;
  std::string t = record_text(kind, n);
  for (const auto& f : fields) add_field(t, f.key, f.value);
  return take(kind, std::move(t));
}

bool EvidenceLog::append(std::string_view kind,
                         const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t n = 0;
  for (const auto& f : fields) n += f.first.size() + f.second.size() + 6;
  std::string t = record_text(kind, n);
  for (const auto& f : fields) add_field(t, f.first, f.second);
  return take(kind, std::move(t));
}

bool EvidenceLog::accepting() const {
  const Impl& m = *impl_;
  if (m.failing.load(std::memory_order_relaxed) && m.refuse.load(std::memory_order_relaxed))
    return false;
  return m.in_memory.load(std::memory_order_relaxed) < m.queue_records.load();
}

uint64_t EvidenceLog::appended() const { return impl_->written.load(); }

uint64_t EvidenceLog::queued() const { return impl_->in_memory.load(); }

std::shared_ptr<void> EvidenceLog::promise_record() {
  promised_->fetch_add(1, std::memory_order_relaxed);
  return release_token([count = promised_] { count->fetch_sub(1, std::memory_order_relaxed); });
}

bool EvidenceLog::flush() {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lk(m.mu);
  const uint64_t target = m.taken_total;
  m.flush_requested = true;
  m.wake.notify_one();
  m.flushed.wait(lk, [&] { return m.synced_total >= target || m.failing.load() || m.stop; });
  return m.synced_total >= target;
}

void EvidenceLog::reconfigure(const EvidenceConfig& cfg) {
  impl_->apply(cfg);
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->wake.notify_one();
}

const std::string& EvidenceLog::dir() const { return impl_->dir; }

std::string evidence_fingerprint(DigestAlgorithm alg, std::string_view der) {
  return digest_hex(digest(alg, der));
}

}  // namespace ptp
