#include "adapters/queue/embedded/embedded_queue_store.h"

#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "adapters/queue/dedup_window.h"
#include "adapters/queue/embedded/embedded_queue_keys.h"
#include "adapters/queue/queue_bookkeeping.h"
#include "adapters/queue/queue_record.h"
#include "adapters/queue/queue_status.h"

namespace ptp {
namespace {

using Clock = std::chrono::steady_clock;
using Callbacks = std::vector<std::function<void()>>;

using queue_bookkeeping::unix_now;

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string int_text(uint64_t v) { return std::to_string(v); }

// A queue's message keys differ only in the trailing offset: with this prefix RocksDB keeps
// an insert hint per queue, so appending the next offset skips most of the skiplist search.
class MessageKeyPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "ptp.MessageKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() > 9 && key[0] == 'm' && key[key.size() - 9] == '\0';
  }
};

// Bytes free for an unprivileged writer on the file system of `path`; max when unknown.
uint64_t free_bytes(const std::string& path) {
  struct statvfs v {};
  if (statvfs(path.c_str(), &v) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

// How often a degraded store looks at the free space again and retries its writes.
constexpr std::chrono::milliseconds kRecoveryInterval{200};
// Room a batch needs beyond its own bytes (log record headers, a new log or manifest).
constexpr uint64_t kWriteMargin = 256 << 10;

void run_all(Callbacks& cbs) {
  for (auto& f : cbs) f();
  cbs.clear();
}

}  // namespace

class EmbeddedQueueStore::Impl {
 public:
  explicit Impl(EmbeddedQueueOptions opts) : opts_(std::move(opts)) {}

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

  Status open() {
    std::error_code ec;
    std::filesystem::create_directories(opts_.path, ec);
    if (ec)
      return Status::Error(Code::kSystemError,
                           "cannot create queue directory " + opts_.path + ": " + ec.message());
    rocksdb::Options o;
    o.create_if_missing = true;
    // RocksDB reserves 4 MiB for each new manifest by default: space a nearly full disk
    // may not have (the store would open degraded); the manifest grows as needed anyway.
    o.manifest_preallocation_size = 64 << 10;
    // Opening replays the log into memory instead of writing it out as a table first,
    // which would need as much free space again: a store on a full disk still opens.
    o.avoid_flush_during_recovery = true;
    o.memtable_insert_with_hint_prefix_extractor = std::make_shared<MessageKeyPrefix>();
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, opts_.path, &raw);
    if (!s.ok())
      return Status::Error(Code::kSystemError,
                           "cannot open queue store " + opts_.path + ": " + s.ToString());
    db_.reset(raw);
    if (Status st = load(); !st.ok()) return st;
    free_ = free_bytes(opts_.path);
    worker_ = std::thread([this] { run(); });
    return Status::Ok();
  }

  // --- the interface, on the caller's thread -------------------------------------------
  // State changes happen at once under mu_; the worker only writes batches and makes
  // pushes visible once durable. Callbacks run after mu_ is released.

  void push(const QueueKey& key, QueuedMessage msg, Clock::time_point deadline, Done done) {
    bool kick = false;
    {
      std::lock_guard lock(mu_);
      do_push(key, std::move(msg), deadline, std::move(done));
      kick = wake_by(Clock::now());
    }
    if (kick) cv_.notify_one();
  }

  uint64_t pop(const QueueKey& key, Clock::time_point deadline, MessageDone done) {
    const uint64_t ticket = ++tickets_;
    Status st;
    Out out;
    bool kick = false;
    {
      std::lock_guard lock(mu_);
      st = take_head(key, out);
      if (st.ok() && !out.found() && Clock::now() < deadline) {
        queues_[key].waiters.push_back(ticket);
        waiters_.emplace(ticket, Waiter{key, deadline, std::move(done)});
        // The worker times waiters out; wake it only when it sleeps past this deadline.
        kick = wake_by(deadline);
        done = nullptr;
      }
    }
    if (kick) cv_.notify_one();
    if (done) deliver(key, std::move(st), std::move(out), std::move(done));
    return ticket;
  }

  void cancel_pop(uint64_t ticket) {
    MessageDone done;
    {
      std::lock_guard lock(mu_);
      auto it = waiters_.find(ticket);
      if (it == waiters_.end()) return;
      done = std::move(it->second.done);
      drop_waiter(it);
    }
    done(Status::Ok(), std::nullopt);
  }

  void ack(const QueueKey& key, uint64_t offset) {
    bool kick = false;
    {
      std::lock_guard lock(mu_);
      if (!do_ack(key, offset)) return;
      // Acks are written within ack_delay, together with what else comes meanwhile.
      if (write_due_ == Clock::time_point::max()) write_due_ = Clock::now() + opts_.ack_delay;
      kick = wake_by(write_due_);
    }
    if (kick) cv_.notify_one();
  }

  void nack(const QueueKey& key, uint64_t offset) {
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      auto it = queues_.find(key);
      if (it == queues_.end()) return;
      Queue& q = it->second;
      auto m = q.leased.find(offset);
      if (m == q.leased.end()) return;
      q.ready.insert(q.leased.extract(m));
      ++redeliveries_;
      serve_waiters(key, q, cbs);
    }
    run_all(cbs);
  }

  void peek(const QueueKey& key, MessageDone done) {
    Status st;
    Out out;
    // A head read from disk may be acked and deleted before the read: then look again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      {
        std::lock_guard lock(mu_);
        st = peek_head(key, out);
      }
      if (st.ok()) st = read_out(out);
      if (st.ok() || !out.missing) break;
      out = Out{};
    }
    done(std::move(st), std::move(out.m));
  }

  void release(const SessionKey& ses, std::optional<std::string> topic, Done done) {
    bool kick = false;
    {
      std::lock_guard lock(mu_);
      if (Status st = writable(0); !st.ok())
        later(std::move(done), std::move(st));  // a release must be written
      else
        do_release(ses, std::move(topic), /*tombstone=*/true, std::move(done));
      kick = wake_by(Clock::now());
    }
    if (kick) cv_.notify_one();
  }

  const std::vector<std::string>& nodes_at_open() const { return nodes_at_open_; }

  std::vector<QueueKey> queues_of(const std::string& node) const {
    std::vector<QueueKey> out;
    std::lock_guard lock(mu_);
    for (auto it = queues_.lower_bound(QueueKey{node, "", ""});
         it != queues_.end() && it->first.node == node; ++it)
      if (!it->second.ready.empty() || !it->second.leased.empty()) out.push_back(it->first);
    return out;
  }

  QueueStats stats() const {
    std::lock_guard lock(mu_);
    return {queues_.size(), messages_, total_bytes_, redeliveries_, deduplicated_};
  }

  // Offsets grow with time within a queue: each map's first entry is its oldest.
  std::vector<NodeBacklog> backlog() const {
    std::vector<NodeBacklog> out;
    std::lock_guard lock(mu_);
    for (const auto& [key, q] : queues_) {
      const uint64_t n = q.pending.size() + q.ready.size() + q.leased.size();
      if (n == 0) continue;
      if (out.empty() || out.back().node != key.node) out.push_back({key.node, 0, 0, 0});
      NodeBacklog& b = out.back();
      b.messages += n;
      for (const auto* m : {&q.pending, &q.ready, &q.leased})
        if (!m->empty() && (b.oldest_ms == 0 || m->begin()->second.stored_ms < b.oldest_ms))
          b.oldest_ms = m->begin()->second.stored_ms;
    }
    // Bytes are kept per session (sessions_ is ordered by node too).
    auto b = out.begin();
    for (const auto& [ses, s] : sessions_) {
      while (b != out.end() && b->node < ses.first) ++b;
      if (b == out.end()) break;
      if (b->node == ses.first) b->bytes += s.bytes;
    }
    return out;
  }

  Status health() const {
    std::lock_guard lock(mu_);
    return writable(kWriteMargin);  // as degraded()
  }

  // --- inspection (queue_store.h) ---------------------------------------------------------

  bool list_queues(const QueueFilter& f, std::vector<QueueInfo>& out) const {
    std::lock_guard lock(mu_);
    auto it = f.node.empty() ? queues_.begin() : queues_.lower_bound(QueueKey{f.node, "", ""});
    for (; it != queues_.end(); ++it) {
      const auto& [key, q] = *it;
      if (!f.node.empty() && key.node != f.node) break;
      if ((!f.session.empty() && key.session != f.session) ||
          (!f.topic.empty() && key.topic != f.topic))
        continue;
      const uint64_t n = q.pending.size() + q.ready.size() + q.leased.size();
      if (n == 0) continue;
      if (out.size() >= f.limit) return true;
      QueueInfo info{key, n, q.bytes, q.leased.size(), 0};
      for (const auto* m : {&q.pending, &q.ready, &q.leased})
        if (!m->empty() && (info.oldest_ms == 0 || m->begin()->second.stored_ms < info.oldest_ms))
          info.oldest_ms = m->begin()->second.stored_ms;
      out.push_back(std::move(info));
    }
    return false;
  }

  Status peek_messages(const QueueKey& key, size_t count, std::vector<PeekedMessage>& out) const {
    struct Picked {
      Out out;
      bool leased;
      int64_t stored_ms;
    };
    std::vector<Picked> picked;
    {
      std::lock_guard lock(mu_);
      if (Status st = queue_status::check_key(key); !st.ok()) return st;
      if (released(key)) return released_status(key);
      auto it = queues_.find(key);
      if (it == queues_.end()) return Status::Ok();
      const Queue& q = it->second;
      // Ready and leased in offset order: a merge of the two maps.
      auto r = q.ready.begin(), l = q.leased.begin();
      while (picked.size() < count && (r != q.ready.end() || l != q.leased.end())) {
        const bool take_leased = r == q.ready.end() || (l != q.leased.end() && l->first < r->first);
        auto& e = take_leased ? *l++ : *r++;
        Picked p{{}, take_leased, e.second.stored_ms};
        copy_out(key, e.first, e.second, p.out);
        picked.push_back(std::move(p));
      }
    }
    // Reads from disk without mu_; a message acknowledged and deleted meanwhile is left out.
    for (auto& p : picked) {
      if (Status st = read_out(p.out); !st.ok()) {
        if (p.out.missing) continue;
        return st;
      }
      out.push_back({std::move(*p.out.m), p.leased, p.stored_ms});
    }
    return Status::Ok();
  }

  void purge(const SessionKey& ses, std::optional<std::string> topic, PurgeDone done) {
    bool kick = false;
    {
      std::lock_guard lock(mu_);
      if (Status st = writable(0); !st.ok()) {
        after_commit_.push_back(
            [done = std::move(done), st](const Status&, Callbacks& cbs) mutable {
              cbs.push_back([done = std::move(done), st] { done(st, 0); });
            });
      } else {
        const uint64_t n = do_purge(ses, topic);
        needs_sync_ = true;  // answered once the deletes are durable
        after_commit_.push_back([done = std::move(done), n](const Status& commit,
                                                            Callbacks& cbs) mutable {
          cbs.push_back([done = std::move(done), commit, n] { done(commit, commit.ok() ? n : 0); });
        });
      }
      kick = wake_by(Clock::now());
    }
    if (kick) cv_.notify_one();
  }

  Status backup(const std::string& dir) {
    // What was taken so far goes to the database first: the pending batch (pushes still
    // being synced, acks waiting for ack_delay) is written by the worker now.
    std::promise<Status> written;
    {
      std::lock_guard lock(mu_);
      after_commit_.push_back([&written](const Status& st, Callbacks&) { written.set_value(st); });
      kick_ = true;
    }
    cv_.notify_one();
    if (Status st = written.get_future().get(); !st.ok()) return st;
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    // log_size_for_flush 0: the memtable is flushed first, so the copy is mostly hard links.
    if (s.ok()) s = cp->CreateCheckpoint(dir, 0);
    if (!s.ok())
      return Status::Error(Code::kSystemError, "cannot back up queue store " + opts_.path +
                                                   " into " + dir + ": " + s.ToString());
    return Status::Ok();
  }

 private:
  struct Entry {
    std::string id;
    uint64_t bytes = 0;
    uint64_t seq = 0;                     // unique per push: its commit finds its own entry
    std::optional<QueuedMessage> cached;  // kept in memory (within cache_bytes): no read
    int64_t stored_ms = 0;                // unix ms of the push (of the open, for loaded ones)
    std::string source;                   // counted against its share (counted_source), or ""
  };
  // A message handed out under mu_: copied from memory, or still to be read from the
  // database (db_key set) once mu_ is released.
  struct Out {
    std::optional<QueuedMessage> m;
    std::string db_key;
    QueueKey key;
    uint64_t offset = 0;
    bool missing = false;  // the read found no such record (deleted meanwhile)
    bool found() const { return m.has_value() || !db_key.empty(); }
  };
  struct Queue {
    std::map<uint64_t, Entry> pending;  // written, not durable yet: invisible
    std::map<uint64_t, Entry> ready;
    std::map<uint64_t, Entry> leased;
    uint64_t next_offset = 1;
    uint64_t bytes = 0;                             // footprints of the three maps' entries
    bool offset_dirty = false;                      // next_offset not written yet
    std::unordered_map<std::string, uint64_t> ids;  // stored messages by id
    std::deque<uint64_t> waiters;                   // pop tickets, oldest first
  };
  using Session = queue_bookkeeping::Session;
  using Waiter = queue_bookkeeping::Waiter;
  using Blocked = queue_bookkeeping::Blocked;
  // Runs under mu_ once the batch it belongs to is durable (or failed); queues the
  // callers' callbacks into the Callbacks.
  using AfterCommit = std::function<void(const Status&, Callbacks&)>;

  // --- operations, under mu_ -------------------------------------------------------------

  void do_push(const QueueKey& key, QueuedMessage msg, Clock::time_point deadline, Done done) {
    if (Status st = writable(msg.env.body.size()); !st.ok())
      return later(std::move(done), std::move(st));
    if (Status st = queue_status::check_key(key); !st.ok()) return later(std::move(done), st);
    if (msg.message_id.empty() || queue_status::has_nul(msg.message_id))
      return later(std::move(done), Status::Error(Code::kBadRequest, "bad message id"));
    if (released(key)) return later(std::move(done), released_status(key));
    if (Status st = queue_status::check_size(msg.env.body.size(), opts_.limits); !st.ok())
      return later(std::move(done), std::move(st));
    const uint64_t bytes = queue_bookkeeping::footprint(msg);
    // Nothing is added to the index before the message is taken: a refused push to a new
    // topic or session leaves no empty queue behind (a peer's refused pushes cost nothing).
    touch_if_known(key);
    // A redelivery is stored once; answered after the current batch, so never before
    // the first copy is durable.
    auto known = queues_.find(key);
    if ((known != queues_.end() && known->second.ids.count(msg.message_id)) ||
        recently_acked(key, msg.message_id)) {
      ++deduplicated_;
      return later(std::move(done), Status::Ok());
    }
    std::string source = queue_bookkeeping::counted_source(key, msg);
    if (Status room = room_for(key, source, bytes); !room.ok()) {
      if (Clock::now() >= deadline) return later(std::move(done), std::move(room));
      blocked_.push_back({key, std::move(msg), deadline, std::move(done)});
      return;
    }
    Queue& q = queues_[key];
    touch(key);
    Session& ses = sessions_[{key.node, key.session}];
    if (!source.empty()) source_bytes_.add(source, bytes);
    target_bytes_.add(key.node, bytes);
    const uint64_t offset = q.next_offset++;
    const uint64_t seq = ++seq_;
    msg.offset = offset;
    q.ids[msg.message_id] = offset;
    q.bytes += bytes;
    ses.bytes += bytes;
    ses.messages += 1;
    total_bytes_ += bytes;
    messages_ += 1;
    batch_.Put(message_key(key, offset), encode_queue_record(msg));
    needs_sync_ = true;
    if (!q.offset_dirty) {
      q.offset_dirty = true;
      dirty_offsets_.push_back(key);
    }
    Entry e{msg.message_id, bytes, seq, std::nullopt, unix_now_ms(), std::move(source)};
    if (cached_bytes_ + bytes <= opts_.cache_bytes) {
      cached_bytes_ += bytes;
      e.cached = std::move(msg);
    }
    q.pending.emplace(offset, std::move(e));
    // Visible, and acknowledged, only once the batch is durable.
    added_since_probe_ += bytes;
    after_commit_.push_back([this, key, offset, seq, done = std::move(done)](
                                const Status& commit, Callbacks& cbs) mutable {
      if (commit.ok())
        make_ready(key, offset, seq, cbs);
      else
        forget_pending(key, offset, seq);
      cbs.push_back([done = std::move(done), commit] { done(commit); });
    });
  }

  // The head message leased into `out`, or `out` empty when there is none.
  Status take_head(const QueueKey& key, Out& out) {
    if (Status st = queue_status::check_key(key); !st.ok()) return st;
    if (released(key)) return released_status(key);
    touch(key);
    auto it = queues_.find(key);
    if (it == queues_.end() || it->second.ready.empty()) return Status::Ok();
    return hand_out(key, it->second, out);
  }

  Status peek_head(const QueueKey& key, Out& out) {
    if (Status st = queue_status::check_key(key); !st.ok()) return st;
    if (released(key)) return released_status(key);
    touch(key);
    auto it = queues_.find(key);
    if (it == queues_.end() || it->second.ready.empty()) return Status::Ok();
    auto& [offset, e] = *it->second.ready.begin();
    copy_out(key, offset, e, out);
    return Status::Ok();
  }

  // Returns whether the batch changed.
  bool do_ack(const QueueKey& key, uint64_t offset) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return false;
    Queue& q = it->second;
    auto m = q.leased.find(offset);
    if (m == q.leased.end()) return false;
    touch(key);
    Entry e = std::move(m->second);
    q.leased.erase(m);
    remove_stored(key, q, offset, e);
    if (opts_.limits.dedup_window.count() > 0) {
      int64_t now = unix_now();
      acked_.remember(key, e.id, now, forget_dedup_key());
      batch_.Put(dedup_key(key, e.id), std::to_string(now));
    }
    retry_blocked();
    return true;
  }

  void do_release(const SessionKey& ses, std::optional<std::string> topic, bool tombstone,
                  Done done) {
    for (auto it = queues_.begin(); it != queues_.end();) {
      const QueueKey& k = it->first;
      if (k.node != ses.first || k.session != ses.second || (topic && k.topic != *topic)) {
        ++it;
        continue;
      }
      drop_queue(k, it->second, tombstone);
      it = queues_.erase(it);
    }
    acked_.forget_queues(
        [&](const QueueKey& k) {
          return k.node == ses.first && k.session == ses.second && (!topic || k.topic == *topic);
        },
        forget_dedup_key());
    if (!topic) {
      sessions_.erase(ses);
      if (tombstone) {
        int64_t now = unix_now();
        released_[ses] = now;
        batch_.Put(release_key(ses), std::to_string(now));
        needs_sync_ = true;
        // Pushes waiting for space in the released session fail now.
        for (auto it = blocked_.begin(); it != blocked_.end();) {
          if (it->key.node == ses.first && it->key.session == ses.second) {
            later(std::move(it->done), released_status(it->key));
            it = blocked_.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    retry_blocked();
    if (done) later(std::move(done), Status::Ok());
  }

  // Deletes the ready and leased messages of the session's queues (or of `topic` only); the
  // queues stay (next offsets, waiting pops), pending pushes are kept. Returns how many.
  uint64_t do_purge(const SessionKey& ses, const std::optional<std::string>& topic) {
    uint64_t n = 0;
    for (auto it = queues_.lower_bound(QueueKey{ses.first, ses.second, topic.value_or("")});
         it != queues_.end() && it->first.node == ses.first && it->first.session == ses.second;
         ++it) {
      if (topic && it->first.topic != *topic) break;
      Queue& q = it->second;
      for (auto* m : {&q.ready, &q.leased}) {
        for (auto& [offset, e] : *m) remove_stored(it->first, q, offset, e);
        n += m->size();
        m->clear();
      }
    }
    retry_blocked();
    return n;
  }

  bool released(const QueueKey& k) const { return released_.count({k.node, k.session}) > 0; }
  static Status released_status(const QueueKey& k) { return queue_status::released(k.session); }
  // OK when one more message charged `bytes` has room (queue_status::room); else
  // E0000000700 naming the limit reached.
  Status room_for(const QueueKey& k, const std::string& source, uint64_t bytes) const {
    const Session none;
    auto s = sessions_.find({k.node, k.session});
    const Session& ses = s == sessions_.end() ? none : s->second;
    return queue_status::room(k, source, bytes, ses, total_bytes_, source_bytes_, target_bytes_,
                              opts_.limits);
  }
  static Status read_error(const QueueKey& k, uint64_t offset) {
    return Status::Error(Code::kSystemError, "stored message " + int_text(offset) + " of topic " +
                                                 k.topic + " cannot be read");
  }

  void touch(const QueueKey& k) { sessions_[{k.node, k.session}].touched = Clock::now(); }
  void touch_if_known(const QueueKey& k) {
    if (auto s = sessions_.find({k.node, k.session}); s != sessions_.end())
      s->second.touched = Clock::now();
  }

  // An id that leaves the dedup window leaves the disk with the next batch.
  struct ForgetDedupKey {
    rocksdb::WriteBatch& batch;
    void operator()(const QueueKey& k, const std::string& id) const {
      batch.Delete(dedup_key(k, id));
    }
  };
  ForgetDedupKey forget_dedup_key() { return {batch_}; }

  bool recently_acked(const QueueKey& k, const std::string& id) const {
    return acked_.contains(k, id);
  }

  // Answered once the current batch is durable (or failed).
  void later(Done done, Status st) {
    after_commit_.push_back(
        [done = std::move(done), st = std::move(st)](const Status& commit, Callbacks& cbs) mutable {
          cbs.push_back(
              [done = std::move(done), st = commit.ok() ? std::move(st) : commit] { done(st); });
        });
  }

  // The message from memory, else named for read_out() to read from the database once
  // mu_ is released (beyond the cache budget, or loaded at start beyond it): a read may go
  // to disk, and every other queue operation would wait for it.
  void copy_out(const QueueKey& key, uint64_t offset, const Entry& e, Out& out) const {
    out.key = key;
    out.offset = offset;
    if (e.cached) {
      out.m = *e.cached;
      out.m->offset = offset;
    } else {
      out.db_key = message_key(key, offset);
    }
  }

  // Reads a message copy_out() left to read; without mu_ (RocksDB reads are thread-safe).
  Status read_out(Out& out) const {
    if (out.db_key.empty()) return Status::Ok();
    std::string value;
    const rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), out.db_key, &value);
    out.m.emplace();
    if (!got.ok() || !decode_queue_record(value, *out.m).ok()) {
      out.m.reset();
      out.missing = got.IsNotFound();
      return read_error(out.key, out.offset);
    }
    out.m->offset = out.offset;
    out.db_key.clear();
    return Status::Ok();
  }

  // Answers a pop with the message it leased (read first when it is on disk only). A
  // message that cannot be read goes back to the queue, as a nack would send it.
  void deliver(const QueueKey& key, Status st, Out out, const MessageDone& done) {
    if (st.ok() && !out.db_key.empty() && !(st = read_out(out)).ok()) nack(key, out.offset);
    done(std::move(st), std::move(out.m));
  }

  Status hand_out(const QueueKey& key, Queue& q, Out& out) {
    auto first = q.ready.begin();
    copy_out(key, first->first, first->second, out);
    q.leased.insert(q.ready.extract(first));
    return Status::Ok();
  }

  // A push whose batch could not be written: not acknowledged, so gone from the index;
  // its record is deleted in case part of the batch reached the disk.
  void forget_pending(const QueueKey& key, uint64_t offset, uint64_t seq) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;
    Queue& q = it->second;
    auto p = q.pending.find(offset);
    if (p == q.pending.end() || p->second.seq != seq) return;
    remove_stored(key, q, offset, p->second);
    q.pending.erase(p);
  }

  // OK when a write of about `bytes` may be tried now; otherwise E0000000602 (HTTP 503)
  // saying why: the last write failed and the store has not recovered yet, or the disk
  // is down to min_free_bytes.
  Status writable(uint64_t bytes) const {
    if (!write_error_.ok()) return write_error_;
    const uint64_t need = std::max(opts_.min_free_bytes, kWriteMargin) + added_since_probe_ + bytes;
    if (free_ < need)
      return Status::Error(Code::kNoInstance, "queue store " + opts_.path +
                                                  " is low on disk space (" +
                                                  std::to_string(free_) + " bytes free, keeps " +
                                                  std::to_string(opts_.min_free_bytes) +
                                                  " free): writes wait until space is freed");
    return Status::Ok();
  }

  void make_ready(const QueueKey& key, uint64_t offset, uint64_t seq, Callbacks& cbs) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;  // released meanwhile
    Queue& q = it->second;
    auto p = q.pending.find(offset);
    if (p == q.pending.end() || p->second.seq != seq) return;
    q.ready.insert(q.pending.extract(p));
    serve_waiters(key, q, cbs);
  }

  void serve_waiters(const QueueKey& key, Queue& q, Callbacks& cbs) {
    while (!q.ready.empty() && !q.waiters.empty()) {
      auto w = waiters_.find(q.waiters.front());
      q.waiters.pop_front();
      if (w == waiters_.end()) continue;
      MessageDone done = std::move(w->second.done);
      waiters_.erase(w);
      Out out;
      Status st = hand_out(key, q, out);
      cbs.push_back(
          [this, key, done = std::move(done), st = std::move(st), out = std::move(out)]() mutable {
            deliver(key, std::move(st), std::move(out), done);
          });
    }
  }

  void drop_waiter(std::map<uint64_t, Waiter>::iterator it) {
    auto q = queues_.find(it->second.key);
    if (q != queues_.end()) {
      auto& w = q->second.waiters;
      w.erase(std::remove(w.begin(), w.end(), it->first), w.end());
    }
    waiters_.erase(it);
  }

  void remove_stored(const QueueKey& key, Queue& q, uint64_t offset, const Entry& e) {
    batch_.Delete(message_key(key, offset));
    q.ids.erase(e.id);
    q.bytes -= std::min(q.bytes, e.bytes);
    auto s = sessions_.find({key.node, key.session});
    if (s != sessions_.end()) {
      s->second.bytes -= std::min(s->second.bytes, e.bytes);
      s->second.messages -= std::min<uint64_t>(s->second.messages, 1);
    }
    total_bytes_ -= std::min(total_bytes_, e.bytes);
    if (!e.source.empty()) source_bytes_.remove(e.source, e.bytes);
    target_bytes_.remove(key.node, e.bytes);
    if (e.cached) cached_bytes_ -= std::min(cached_bytes_, e.bytes);
    messages_ -= 1;
  }

  void drop_queue(const QueueKey& k, Queue& q, bool tombstone) {
    // Pending messages too: their Put is in this or an earlier batch, so the Delete wins.
    for (auto* m : {&q.pending, &q.ready, &q.leased})
      for (auto& [offset, e] : *m) remove_stored(k, q, offset, e);
    batch_.Delete(offset_key(k));
    // Waiting pops: a released session answers 608, an expired or dropped topic empty.
    for (uint64_t t : q.waiters) {
      auto w = waiters_.find(t);
      if (w == waiters_.end()) continue;
      MessageDone done = std::move(w->second.done);
      waiters_.erase(w);
      Status st = tombstone ? released_status(k) : Status::Ok();
      after_commit_.push_back([done = std::move(done), st](const Status&, Callbacks& cbs) mutable {
        cbs.push_back([done = std::move(done), st] { done(st, std::nullopt); });
      });
    }
  }

  void retry_blocked() {
    std::list<Blocked> waiting;
    waiting.swap(blocked_);
    for (auto& b : waiting) do_push(b.key, std::move(b.msg), b.deadline, std::move(b.done));
  }

  void expire(Clock::time_point now, Callbacks& cbs) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      cbs.push_back([done = std::move(it->second.done)] { done(Status::Ok(), std::nullopt); });
      auto next = std::next(it);
      drop_waiter(it);
      it = next;
    }
    for (auto it = blocked_.begin(); it != blocked_.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      Status room = room_for(it->key, queue_bookkeeping::counted_source(it->key, it->msg),
                             queue_bookkeeping::footprint(it->msg));
      if (room.ok())  // room came meanwhile (retried at the next removal): still refused now
        room = Status::Error(Code::kBufferFull, "no room for the message in time");
      later(std::move(it->done), std::move(room));
      it = blocked_.erase(it);
    }
  }

  void sweep(Clock::time_point now) {
    if (now < next_sweep_) return;
    next_sweep_ = now + opts_.sweep_interval;
    const int64_t unix = unix_now();
    std::vector<SessionKey> idle;
    for (auto& [k, s] : sessions_)
      if (now - s.touched > opts_.limits.session_idle_expiry) idle.push_back(k);
    for (auto& k : idle) do_release(k, std::nullopt, /*tombstone=*/false, nullptr);
    acked_.expire(unix - opts_.limits.dedup_window.count(), forget_dedup_key());
    for (auto it = released_.begin(); it != released_.end();) {
      if (unix - it->second > opts_.released_memory.count()) {
        batch_.Delete(release_key(it->first));
        it = released_.erase(it);
      } else {
        ++it;
      }
    }
    if (batch_.Count() > 0) write_due_ = now;
  }

  // Next offsets are written once per batch, not once per push.
  void write_offsets() {
    for (const QueueKey& k : dirty_offsets_) {
      auto it = queues_.find(k);
      if (it == queues_.end() || !it->second.offset_dirty) continue;  // dropped meanwhile
      it->second.offset_dirty = false;
      batch_.Put(offset_key(k), int_text(it->second.next_offset));
    }
    dirty_offsets_.clear();
  }

  // Work that cannot wait: someone is waiting for the batch to be durable.
  bool urgent() const { return !after_commit_.empty(); }
  bool has_work() const { return batch_.Count() > 0 || urgent(); }

  // The sleeping worker must wake by `t`: true when the caller has to notify it (it is
  // busy otherwise, and looks at everything before it sleeps again).
  bool wake_by(Clock::time_point t) {
    if (t >= wake_at_) return false;
    kick_ = true;
    return true;
  }

  // Writes the pending batch without holding mu_ (callers keep filling the next one: group
  // commit), then runs its after-commit steps. Enters and leaves with `lock` held.
  void commit(std::unique_lock<std::mutex>& lock, Callbacks& cbs) {
    write_offsets();
    std::swap(batch_, writing_);
    write_due_ = Clock::time_point::max();
    std::vector<AfterCommit> after;
    after.swap(after_commit_);
    rocksdb::WriteOptions wo;
    // Pushes and releases are synced before they are acknowledged. Acks (deletes) are
    // not: they reach the OS at once, so a killed process keeps them; only a machine
    // crash can lose one, and then the message is delivered again (at-least-once).
    wo.sync = opts_.sync && needs_sync_;
    needs_sync_ = false;
    const bool resume = !write_error_.ok();
    const bool wrote = writing_.Count() > 0;
    lock.unlock();
    run_all(cbs);
    // After a failed write RocksDB must recover (Resume) before it is written again:
    // writing on would reuse a log writer that saw the error (RocksDB asserts on that).
    // RocksDB does not survive a write that meets a full disk (it aborts on the next use
    // of that log): a batch that would not fit is not written at all.
    rocksdb::Status s;
    uint64_t space = free_bytes(opts_.path);
    bool no_room = false;
    if (writing_.Count() > 0) {
      no_room = space < writing_.GetDataSize() + kWriteMargin;
      if (no_room) s = rocksdb::Status::NoSpace("not written: the disk is full");
      if (s.ok() && resume) s = db_->Resume();
      if (s.ok()) {
        const auto t0 = Clock::now();
        s = db_->Write(wo, &writing_);
        if (opts_.on_write) opts_.on_write(Clock::now() - t0);
      }
      if (s.ok()) space = free_bytes(opts_.path);
    }
    writing_.Clear();
    lock.lock();
    note_probe(space);
    // Nothing in a batch that failed is acknowledged (its pushes answer 503 and leave the
    // index; its acks are repeated after a restart: at-least-once); later writes are
    // refused until the store has recovered (recover()).
    Status result = Status::Ok();
    if (no_room) {
      result = writable(0);  // low on space, and says so until space is back
      if (result.ok()) result = Status::Error(Code::kNoInstance, "queue store disk is full");
    } else if (!s.ok()) {
      write_error_ =
          Status::Error(Code::kNoInstance, "queue store " + opts_.path + " cannot write (" +
                                               s.ToString() + "): writes resume once it recovers");
      result = write_error_;
    } else if (!wrote && resume) {
      // Nothing was written: the error stays until recover() succeeds.
      result = write_error_;
    } else if (resume) {
      write_error_ = Status::Ok();
    }
    for (auto& f : after) f(result, cbs);
    lock.unlock();
    run_all(cbs);
    lock.lock();
  }

  void note_probe(uint64_t space) {
    free_ = space;
    added_since_probe_ = 0;
    next_probe_ = Clock::now() + kRecoveryInterval;
  }

  // Could not write a batch of kWriteMargin bytes now (health(); looks again meanwhile).
  bool degraded() const { return !writable(kWriteMargin).ok(); }

  // A degraded store looks again: the free space, and after a failed write whether
  // RocksDB can resume. Enters and leaves with `lock` held.
  void recover(std::unique_lock<std::mutex>& lock) {
    const bool resume = !write_error_.ok();
    lock.unlock();
    const bool resumed = resume && db_->Resume().ok();
    const uint64_t space = free_bytes(opts_.path);
    lock.lock();
    note_probe(space);
    if (resumed && space >= opts_.min_free_bytes) write_error_ = Status::Ok();
  }

  Clock::time_point next_deadline() const {
    Clock::time_point d = std::min(next_sweep_, write_due_);
    if (degraded()) d = std::min(d, next_probe_);
    for (auto& [t, w] : waiters_) d = std::min(d, w.deadline);
    for (auto& b : blocked_) d = std::min(d, b.deadline);
    return d;
  }

  void run() {
    std::unique_lock lock(mu_);
    next_sweep_ = Clock::now() + opts_.sweep_interval;
    while (true) {
      wake_at_ = next_deadline();
      cv_.wait_until(lock, wake_at_, [&] { return stop_ || kick_ || urgent(); });
      kick_ = false;
      wake_at_ = Clock::time_point::min();  // busy: it looks at every deadline next round
      Callbacks cbs;
      const auto now = Clock::now();
      expire(now, cbs);
      sweep(now);
      if (degraded() && now >= next_probe_) recover(lock);
      const bool stopping = stop_;
      // Unsynced changes alone wait for their due time (or a batch written anyway).
      if (urgent() || stopping || now >= write_due_)
        commit(lock, cbs);
      else if (!cbs.empty()) {
        lock.unlock();
        run_all(cbs);
        lock.lock();
      }
      if (stopping && !has_work()) break;
    }
    // Shutting down: pending pops and pushes get an answer; nothing half-written.
    Callbacks cbs;
    for (auto& [t, w] : waiters_)
      cbs.push_back([done = std::move(w.done)] { done(Status::Ok(), std::nullopt); });
    waiters_.clear();
    for (auto& b : blocked_)
      cbs.push_back([done = std::move(b.done)] {
        done(Status::Error(Code::kSystemError, "queue store shutting down"));
      });
    blocked_.clear();
    lock.unlock();
    run_all(cbs);
  }

  Status load() {
    const int64_t opened_ms = unix_now_ms();
    std::vector<std::tuple<int64_t, QueueKey, std::string>> loaded_acks;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view v(it->value().data(), it->value().size());
      ParsedKey k = parse_key({it->key().data(), it->key().size()});
      if (k.kind == 'm') {
        QueuedMessage m;
        if (Status s = decode_queue_record(v, m); !s.ok())
          return Status::Error(Code::kSystemError,
                               "corrupt message in queue store " + opts_.path + ": " + s.message);
        Queue& q = queues_[k.queue];
        const uint64_t bytes = queue_bookkeeping::footprint(m);
        q.ids[m.message_id] = k.offset;
        q.bytes += bytes;
        q.next_offset = std::max(q.next_offset, k.offset + 1);
        std::string source = queue_bookkeeping::counted_source(k.queue, m);
        Entry e{m.message_id, bytes, 0, std::nullopt, opened_ms, std::move(source)};
        if (!e.source.empty()) source_bytes_.add(e.source, bytes);
        target_bytes_.add(k.queue.node, bytes);
        if (cached_bytes_ + bytes <= opts_.cache_bytes) {
          cached_bytes_ += bytes;
          e.cached = std::move(m);
        }
        q.ready.emplace(k.offset, std::move(e));
        Session& ses = sessions_[{k.queue.node, k.queue.session}];
        ses.bytes += bytes;
        ses.messages += 1;
        total_bytes_ += bytes;
        messages_ += 1;
      } else if (k.kind == 'o') {
        Queue& q = queues_[k.queue];
        q.next_offset = std::max<uint64_t>(q.next_offset, std::stoull(std::string(v)));
      } else if (k.kind == 'd') {
        loaded_acks.push_back({std::stoll(std::string(v)), k.queue, k.id});
      } else if (k.kind == 'r') {
        released_[k.session] = std::stoll(std::string(v));
      }
    }
    // The dedup window takes its ids in ack order (the keys came in key order).
    std::sort(loaded_acks.begin(), loaded_acks.end(),
              [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    for (const auto& [at, queue, id] : loaded_acks)
      acked_.remember(queue, id, at, forget_dedup_key());
    for (const auto& [key, q] : queues_)
      if (!q.ready.empty() &&
          (nodes_at_open_.empty() || nodes_at_open_.back() != key.node))  // keys sorted by node
        nodes_at_open_.push_back(key.node);
    return Status::Ok();
  }

  const EmbeddedQueueOptions opts_;
  std::vector<std::string> nodes_at_open_;  // set by load(), immutable afterwards
  std::unique_ptr<rocksdb::DB> db_;         // thread-safe; opened before the worker starts
  std::atomic<uint64_t> tickets_{0};
  std::thread worker_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  bool stop_ = false;
  bool kick_ = false;  // the worker has to wake before wake_at_
  Clock::time_point write_due_ = Clock::time_point::max();  // unsynced changes due by then
  Clock::time_point wake_at_ = Clock::time_point::min();    // when the sleeping worker wakes
  rocksdb::WriteBatch batch_;                               // the next batch to write
  std::vector<AfterCommit> after_commit_;                   // ... and what follows it
  bool needs_sync_ = false;                                 // ... it holds pushes or releases
  std::vector<QueueKey> dirty_offsets_;
  std::map<QueueKey, Queue> queues_;
  std::map<SessionKey, Session> sessions_;
  queue_bookkeeping::NodeBytes source_bytes_;  // footprints by counted_source
  queue_bookkeeping::NodeBytes target_bytes_;  // footprints by the queue's node (its target)
  std::map<SessionKey, int64_t> released_;     // unix time of the release
  DedupWindow<int64_t> acked_{opts_.limits.dedup_max_ids};  // unix time of each ack
  std::map<uint64_t, Waiter> waiters_;
  std::list<Blocked> blocked_;
  uint64_t total_bytes_ = 0, messages_ = 0, cached_bytes_ = 0, seq_ = 0;
  uint64_t redeliveries_ = 0, deduplicated_ = 0;  // since open (QueueStats)
  Clock::time_point next_sweep_;
  Status write_error_;              // the last write failed; cleared once RocksDB resumed
  uint64_t free_ = UINT64_MAX;      // disk bytes free at the last look
  uint64_t added_since_probe_ = 0;  // footprints pushed since then
  Clock::time_point next_probe_;    // when a degraded store looks again

  // Owned by the worker thread.
  rocksdb::WriteBatch writing_;  // the batch being written
};

std::unique_ptr<EmbeddedQueueStore> EmbeddedQueueStore::open(const EmbeddedQueueOptions& opts,
                                                             Status& error) {
  auto impl = std::make_unique<Impl>(opts);
  error = impl->open();
  if (!error.ok()) return nullptr;
  return std::unique_ptr<EmbeddedQueueStore>(new EmbeddedQueueStore(std::move(impl)));
}

EmbeddedQueueStore::EmbeddedQueueStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedQueueStore::~EmbeddedQueueStore() = default;

void EmbeddedQueueStore::push(const QueueKey& key, QueuedMessage msg,
                              std::chrono::milliseconds wait, Done done) {
  impl_->push(key, std::move(msg), Clock::now() + wait, std::move(done));
}

uint64_t EmbeddedQueueStore::pop(const QueueKey& key, std::chrono::milliseconds timeout,
                                 MessageDone done) {
  return impl_->pop(key, Clock::now() + timeout, std::move(done));
}

void EmbeddedQueueStore::cancel_pop(uint64_t ticket) { impl_->cancel_pop(ticket); }

void EmbeddedQueueStore::ack(const QueueKey& key, uint64_t offset) { impl_->ack(key, offset); }

void EmbeddedQueueStore::nack(const QueueKey& key, uint64_t offset) { impl_->nack(key, offset); }

void EmbeddedQueueStore::peek(const QueueKey& key, MessageDone done) {
  impl_->peek(key, std::move(done));
}

Status EmbeddedQueueStore::health() const { return impl_->health(); }

void EmbeddedQueueStore::release(const std::string& node, const std::string& session,
                                 std::optional<std::string> topic, Done done) {
  impl_->release({node, session}, std::move(topic), std::move(done));
}

QueueStats EmbeddedQueueStore::stats() const { return impl_->stats(); }

std::vector<NodeBacklog> EmbeddedQueueStore::backlog() const { return impl_->backlog(); }

std::vector<std::string> EmbeddedQueueStore::nodes_at_open() const {
  return impl_->nodes_at_open();
}

Status EmbeddedQueueStore::backup(const std::string& dir) { return impl_->backup(dir); }

void EmbeddedQueueStore::list_queues(const QueueFilter& filter, ListDone done) {
  std::vector<QueueInfo> out;
  const bool truncated = impl_->list_queues(filter, out);
  done(Status::Ok(), std::move(out), truncated);
}

void EmbeddedQueueStore::peek_messages(const QueueKey& key, size_t count, PeekDone done) {
  std::vector<PeekedMessage> out;
  Status st = impl_->peek_messages(key, count, out);
  done(std::move(st), std::move(out));
}

void EmbeddedQueueStore::purge(const std::string& node, const std::string& session,
                               std::optional<std::string> topic, PurgeDone done) {
  impl_->purge({node, session}, std::move(topic), std::move(done));
}

void EmbeddedQueueStore::queues_of(const std::string& node, KeysDone done) {
  done(Status::Ok(), impl_->queues_of(node));
}

}  // namespace ptp
