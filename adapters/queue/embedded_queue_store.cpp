#include "adapters/queue/embedded_queue_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "adapters/queue/queue_record.h"

namespace ptp {
namespace {

using Clock = std::chrono::steady_clock;
using SessionKey = std::pair<std::string, std::string>;  // node, session

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keys: one letter, then NUL-separated parts; message keys end in a big-endian offset so
// a queue's messages are adjacent and in order.
std::string queue_prefix(char kind, const QueueKey& k) {
  std::string s(1, kind);
  s += k.node;
  s += '\0';
  s += k.session;
  s += '\0';
  s += k.topic;
  s += '\0';
  return s;
}

std::string message_key(const QueueKey& k, uint64_t offset) {
  std::string s = queue_prefix('m', k);
  for (int i = 7; i >= 0; --i) s += static_cast<char>((offset >> (8 * i)) & 0xff);
  return s;
}

std::string dedup_key(const QueueKey& k, const std::string& id) {
  return queue_prefix('d', k) + id;
}
std::string offset_key(const QueueKey& k) { return queue_prefix('o', k); }
std::string release_key(const SessionKey& s) {
  return std::string("r") + s.first + '\0' + s.second + '\0';
}

// Splits the NUL-separated parts after the kind letter.
std::vector<std::string_view> split_key(std::string_view key) {
  std::vector<std::string_view> parts;
  key.remove_prefix(1);
  while (true) {
    auto z = key.find('\0');
    if (z == std::string_view::npos) {
      parts.push_back(key);
      return parts;
    }
    parts.push_back(key.substr(0, z));
    key.remove_prefix(z + 1);
  }
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::string int_text(uint64_t v) { return std::to_string(v); }

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
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, opts_.path, &raw);
    if (!s.ok())
      return Status::Error(Code::kSystemError,
                           "cannot open queue store " + opts_.path + ": " + s.ToString());
    db_.reset(raw);
    if (Status st = load(); !st.ok()) return st;
    worker_ = std::thread([this] { run(); });
    return Status::Ok();
  }

  void submit(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  uint64_t next_ticket() { return ++tickets_; }

  // --- operations, run on the worker ---------------------------------------------------

  void do_push(const QueueKey& key, QueuedMessage msg, Clock::time_point deadline, Done done) {
    if (!failed_.ok()) return later(std::move(done), failed_);
    if (Status st = check_key(key); !st.ok()) return later(std::move(done), st);
    if (msg.message_id.empty() || has_nul(msg.message_id))
      return later(std::move(done), Status::Error(Code::kBadRequest, "bad message id"));
    if (released(key)) return later(std::move(done), released_status(key));
    const uint64_t bytes = msg.env.body.size();
    if (bytes > opts_.limits.max_message_bytes)
      return later(std::move(done),
                   Status::Error(Code::kTooLarge, "message of " + int_text(bytes) +
                                                      " bytes exceeds the limit of " +
                                                      int_text(opts_.limits.max_message_bytes)));
    Queue& q = queues_[key];
    touch(key);
    if (q.ids.count(msg.message_id) || recently_acked(key, msg.message_id))
      return later(std::move(done), Status::Ok());  // a redelivery: stored once
    Session& ses = sessions_[{key.node, key.session}];
    if (ses.bytes + bytes > opts_.limits.max_session_bytes ||
        total_bytes_ + bytes > opts_.limits.max_total_bytes) {
      if (Clock::now() >= deadline) return later(std::move(done), full_status(key, ses));
      blocked_.push_back({key, std::move(msg), deadline, std::move(done)});
      return;
    }
    const uint64_t offset = q.next_offset++;
    msg.offset = offset;
    q.ids[msg.message_id] = offset;
    ses.bytes += bytes;
    total_bytes_ += bytes;
    messages_ += 1;
    batch_.Put(message_key(key, offset), encode_queue_record(msg));
    needs_sync_ = true;
    batch_.Put(offset_key(key), int_text(q.next_offset));
    // Visible, and acknowledged, only once the batch is durable.
    after_commit_.push_back([this, key, offset, bytes, id = msg.message_id,
                             done = std::move(done)](const Status& commit) {
      if (!commit.ok()) return done(commit);
      queues_[key].ready.emplace(offset, Entry{id, bytes});
      serve_waiters(key);
      done(Status::Ok());
    });
  }

  void do_pop(const QueueKey& key, uint64_t ticket, Clock::time_point deadline, MessageDone done) {
    if (!failed_.ok()) return done(failed_, std::nullopt);
    if (Status st = check_key(key); !st.ok()) return done(st, std::nullopt);
    if (released(key)) return done(released_status(key), std::nullopt);
    touch(key);
    auto it = queues_.find(key);
    if (it != queues_.end() && !it->second.ready.empty()) return hand_out(key, it->second, done);
    if (Clock::now() >= deadline) return done(Status::Ok(), std::nullopt);
    queues_[key].waiters.push_back(ticket);
    waiters_.emplace(ticket, Waiter{key, deadline, std::move(done)});
  }

  void do_cancel(uint64_t ticket) {
    auto it = waiters_.find(ticket);
    if (it == waiters_.end()) return;
    MessageDone done = std::move(it->second.done);
    drop_waiter(it);
    done(Status::Ok(), std::nullopt);
  }

  void do_ack(const QueueKey& key, uint64_t offset) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;
    Queue& q = it->second;
    auto m = q.leased.find(offset);
    if (m == q.leased.end()) return;
    touch(key);
    Entry e = std::move(m->second);
    q.leased.erase(m);
    remove_stored(key, q, offset, e);
    if (opts_.limits.dedup_window.count() > 0) {
      int64_t now = unix_now();
      acked_[key][e.id] = now;
      batch_.Put(dedup_key(key, e.id), std::to_string(now));
    }
    retry_blocked();
  }

  void do_nack(const QueueKey& key, uint64_t offset) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;
    auto m = it->second.leased.find(offset);
    if (m == it->second.leased.end()) return;
    it->second.ready.emplace(offset, std::move(m->second));
    it->second.leased.erase(m);
    serve_waiters(key);
  }

  void do_peek(const QueueKey& key, MessageDone done) {
    if (Status st = check_key(key); !st.ok()) return done(st, std::nullopt);
    if (released(key)) return done(released_status(key), std::nullopt);
    touch(key);
    auto it = queues_.find(key);
    if (it == queues_.end() || it->second.ready.empty()) return done(Status::Ok(), std::nullopt);
    auto& [offset, e] = *it->second.ready.begin();
    std::optional<QueuedMessage> m = read(key, offset);
    if (!m) return done(read_error(key, offset), std::nullopt);
    done(Status::Ok(), std::move(m));
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
    for (auto it = acked_.begin(); it != acked_.end();) {
      const QueueKey& k = it->first;
      if (k.node == ses.first && k.session == ses.second && (!topic || k.topic == *topic)) {
        for (auto& [id, at] : it->second) batch_.Delete(dedup_key(k, id));
        it = acked_.erase(it);
      } else {
        ++it;
      }
    }
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

  QueueStats stats() const { return {queue_count_.load(), messages_.load(), stored_bytes_.load()}; }
  // Set by load(), before the worker starts; immutable afterwards.
  const std::vector<std::string>& nodes_at_open() const { return nodes_at_open_; }

 private:
  struct Entry {
    std::string id;
    uint64_t bytes = 0;
  };
  struct Queue {
    std::map<uint64_t, Entry> ready;
    std::map<uint64_t, Entry> leased;
    uint64_t next_offset = 1;
    std::unordered_map<std::string, uint64_t> ids;  // stored messages by id
    std::deque<uint64_t> waiters;                   // pop tickets, oldest first
  };
  struct Session {
    uint64_t bytes = 0;
    Clock::time_point touched = Clock::now();
  };
  struct Waiter {
    QueueKey key;
    Clock::time_point deadline;
    MessageDone done;
  };
  struct Blocked {
    QueueKey key;
    QueuedMessage msg;
    Clock::time_point deadline;
    Done done;
  };

  static Status check_key(const QueueKey& k) {
    if (k.node.empty() || k.session.empty() || has_nul(k.node) || has_nul(k.session) ||
        has_nul(k.topic))
      return Status::Error(Code::kBadRequest, "bad queue key (empty node/session or NUL byte)");
    return Status::Ok();
  }

  bool released(const QueueKey& k) const { return released_.count({k.node, k.session}) > 0; }
  static Status released_status(const QueueKey& k) {
    return Status::Error(Code::kSessionReleased, "session " + k.session + " was released");
  }
  Status full_status(const QueueKey& k, const Session& s) const {
    if (s.bytes >= opts_.limits.max_session_bytes || total_bytes_ < opts_.limits.max_total_bytes)
      return Status::Error(Code::kBufferFull, "queue of session " + k.session + " is full (" +
                                                  int_text(s.bytes) + " bytes queued, limit " +
                                                  int_text(opts_.limits.max_session_bytes) + ")");
    return Status::Error(Code::kBufferFull, "queue store is full (" + int_text(total_bytes_) +
                                                " bytes queued, limit " +
                                                int_text(opts_.limits.max_total_bytes) + ")");
  }
  static Status read_error(const QueueKey& k, uint64_t offset) {
    return Status::Error(Code::kSystemError, "stored message " + int_text(offset) + " of topic " +
                                                 k.topic + " cannot be read");
  }

  void touch(const QueueKey& k) { sessions_[{k.node, k.session}].touched = Clock::now(); }

  bool recently_acked(const QueueKey& k, const std::string& id) const {
    auto it = acked_.find(k);
    return it != acked_.end() && it->second.count(id);
  }

  // Callbacks of this batch run once it is durable (or failed).
  void later(Done done, Status st) {
    after_commit_.push_back([done = std::move(done), st = std::move(st)](const Status& commit) {
      done(commit.ok() ? st : commit);
    });
  }

  std::optional<QueuedMessage> read(const QueueKey& key, uint64_t offset) {
    std::string value;
    if (!db_->Get(rocksdb::ReadOptions(), message_key(key, offset), &value).ok())
      return std::nullopt;
    QueuedMessage m;
    if (!decode_queue_record(value, m).ok()) return std::nullopt;
    m.offset = offset;
    return m;
  }

  void hand_out(const QueueKey& key, Queue& q, const MessageDone& done) {
    auto first = q.ready.begin();
    const uint64_t offset = first->first;
    std::optional<QueuedMessage> m = read(key, offset);
    if (!m) return done(read_error(key, offset), std::nullopt);
    q.leased.emplace(offset, std::move(first->second));
    q.ready.erase(first);
    done(Status::Ok(), std::move(m));
  }

  void serve_waiters(const QueueKey& key) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;
    Queue& q = it->second;
    while (!q.ready.empty() && !q.waiters.empty()) {
      auto w = waiters_.find(q.waiters.front());
      q.waiters.pop_front();
      if (w == waiters_.end()) continue;
      MessageDone done = std::move(w->second.done);
      waiters_.erase(w);
      hand_out(key, q, done);
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
    auto s = sessions_.find({key.node, key.session});
    if (s != sessions_.end()) s->second.bytes -= std::min(s->second.bytes, e.bytes);
    total_bytes_ -= std::min(total_bytes_, e.bytes);
    messages_ -= 1;
  }

  void drop_queue(const QueueKey& k, Queue& q, bool tombstone) {
    for (auto* m : {&q.ready, &q.leased})
      for (auto& [offset, e] : *m) remove_stored(k, q, offset, e);
    q.ready.clear();
    q.leased.clear();
    batch_.Delete(offset_key(k));
    // Waiting pops: a released session answers 608, an expired or dropped topic empty.
    for (uint64_t t : q.waiters) {
      auto w = waiters_.find(t);
      if (w == waiters_.end()) continue;
      MessageDone done = std::move(w->second.done);
      waiters_.erase(w);
      Status st = tombstone ? released_status(k) : Status::Ok();
      after_commit_.push_back(
          [done = std::move(done), st](const Status&) { done(st, std::nullopt); });
    }
  }

  void retry_blocked() {
    std::list<Blocked> waiting;
    waiting.swap(blocked_);
    for (auto& b : waiting) do_push(b.key, std::move(b.msg), b.deadline, std::move(b.done));
  }

  void expire(Clock::time_point now) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      MessageDone done = std::move(it->second.done);
      auto next = std::next(it);
      drop_waiter(it);
      it = next;
      done(Status::Ok(), std::nullopt);
    }
    for (auto it = blocked_.begin(); it != blocked_.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      later(std::move(it->done), full_status(it->key, sessions_[{it->key.node, it->key.session}]));
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
    for (auto it = acked_.begin(); it != acked_.end();) {
      for (auto a = it->second.begin(); a != it->second.end();) {
        if (unix - a->second > opts_.limits.dedup_window.count()) {
          batch_.Delete(dedup_key(it->first, a->first));
          a = it->second.erase(a);
        } else {
          ++a;
        }
      }
      it = it->second.empty() ? acked_.erase(it) : std::next(it);
    }
    for (auto it = released_.begin(); it != released_.end();) {
      if (unix - it->second > opts_.released_memory.count()) {
        batch_.Delete(release_key(it->first));
        it = released_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void commit() {
    if (batch_.Count() > 0) {
      rocksdb::WriteOptions wo;
      // Pushes and releases are synced before they are acknowledged. Acks (deletes) are
      // not: they reach the OS at once, so a killed process keeps them; only a machine
      // crash can lose one, and then the message is delivered again (at-least-once).
      wo.sync = opts_.sync && needs_sync_;
      needs_sync_ = false;
      rocksdb::Status s = db_->Write(wo, &batch_);
      batch_.Clear();
      // A store that cannot write is broken for good: refuse everything from now on
      // rather than acknowledge what is not durable.
      if (!s.ok())
        failed_ = Status::Error(Code::kSystemError, "queue store write failed: " + s.ToString());
    }
    queue_count_ = queues_.size();
    stored_bytes_ = total_bytes_;
    std::vector<std::function<void(const Status&)>> run;
    run.swap(after_commit_);
    for (auto& f : run) f(failed_);
  }

  Clock::time_point next_deadline() const {
    Clock::time_point d = next_sweep_;
    for (auto& [t, w] : waiters_) d = std::min(d, w.deadline);
    for (auto& b : blocked_) d = std::min(d, b.deadline);
    return d;
  }

  void run() {
    next_sweep_ = Clock::now() + opts_.sweep_interval;
    while (true) {
      std::deque<std::function<void()>> tasks;
      {
        std::unique_lock lock(mu_);
        cv_.wait_until(lock, next_deadline(), [&] { return stop_ || !tasks_.empty(); });
        if (stop_ && tasks_.empty()) break;
        tasks.swap(tasks_);
      }
      for (auto& t : tasks) t();
      const auto now = Clock::now();
      expire(now);
      sweep(now);
      commit();
      // after_commit_ callbacks may have queued more work (e.g. a retry of a push).
      if (!after_commit_.empty() || batch_.Count() > 0) commit();
    }
    // Shutting down: pending pops and pushes get an answer; nothing half-written.
    commit();
    std::vector<MessageDone> pops;
    for (auto& [t, w] : waiters_) pops.push_back(std::move(w.done));
    waiters_.clear();
    for (auto& d : pops) d(Status::Ok(), std::nullopt);
    for (auto& b : blocked_) b.done(Status::Error(Code::kSystemError, "queue store shutting down"));
    blocked_.clear();
  }

  Status load() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view k(it->key().data(), it->key().size());
      std::string_view v(it->value().data(), it->value().size());
      if (k.empty()) continue;
      // Message keys end in 8 binary offset bytes (which may hold NULs): cut them first.
      const bool message = k[0] == 'm' && k.size() > 9 && k[k.size() - 9] == '\0';
      auto parts = split_key(message ? k.substr(0, k.size() - 9) : k);
      if (message && parts.size() == 3) {
        QueueKey key{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
        uint64_t offset = 0;
        for (unsigned char c : k.substr(k.size() - 8)) offset = (offset << 8) | c;
        QueuedMessage m;
        if (Status s = decode_queue_record(v, m); !s.ok())
          return Status::Error(Code::kSystemError,
                               "corrupt message in queue store " + opts_.path + ": " + s.message);
        Queue& q = queues_[key];
        const uint64_t bytes = m.env.body.size();
        q.ready.emplace(offset, Entry{m.message_id, bytes});
        q.ids[m.message_id] = offset;
        q.next_offset = std::max(q.next_offset, offset + 1);
        sessions_[{key.node, key.session}].bytes += bytes;
        total_bytes_ += bytes;
        messages_ += 1;
      } else if (k[0] == 'o' && parts.size() == 4) {
        QueueKey key{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
        queues_[key].next_offset =
            std::max<uint64_t>(queues_[key].next_offset, std::stoull(std::string(v)));
      } else if (k[0] == 'd' && parts.size() == 4) {
        QueueKey key{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
        acked_[key][std::string(parts[3])] = std::stoll(std::string(v));
      } else if (k[0] == 'r' && parts.size() >= 2) {
        released_[{std::string(parts[0]), std::string(parts[1])}] = std::stoll(std::string(v));
      }
    }
    queue_count_ = queues_.size();
    stored_bytes_ = total_bytes_;
    for (const auto& [key, q] : queues_)
      if (!q.ready.empty() &&
          (nodes_at_open_.empty() || nodes_at_open_.back() != key.node))  // keys sorted by node
        nodes_at_open_.push_back(key.node);
    return Status::Ok();
  }

  EmbeddedQueueOptions opts_;
  std::vector<std::string> nodes_at_open_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::atomic<uint64_t> tickets_{0};
  std::thread worker_;

  // Owned by the worker thread.
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteBatch batch_;
  std::vector<std::function<void(const Status&)>> after_commit_;
  std::map<QueueKey, Queue> queues_;
  std::map<SessionKey, Session> sessions_;
  std::map<SessionKey, int64_t> released_;  // unix time of the release
  std::map<QueueKey, std::unordered_map<std::string, int64_t>> acked_;
  std::map<uint64_t, Waiter> waiters_;
  std::list<Blocked> blocked_;
  uint64_t total_bytes_ = 0;
  Clock::time_point next_sweep_;
  Status failed_;            // set once a write failed
  bool needs_sync_ = false;  // the batch holds pushes or releases

  std::atomic<uint64_t> queue_count_{0}, messages_{0}, stored_bytes_{0};
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
  auto deadline = Clock::now() + wait;
  impl_->submit([this, key, msg = std::move(msg), deadline, done = std::move(done)]() mutable {
    impl_->do_push(key, std::move(msg), deadline, std::move(done));
  });
}

uint64_t EmbeddedQueueStore::pop(const QueueKey& key, std::chrono::milliseconds timeout,
                                 MessageDone done) {
  const uint64_t ticket = impl_->next_ticket();
  auto deadline = Clock::now() + timeout;
  impl_->submit([this, key, ticket, deadline, done = std::move(done)]() mutable {
    impl_->do_pop(key, ticket, deadline, std::move(done));
  });
  return ticket;
}

void EmbeddedQueueStore::cancel_pop(uint64_t ticket) {
  impl_->submit([this, ticket] { impl_->do_cancel(ticket); });
}

void EmbeddedQueueStore::ack(const QueueKey& key, uint64_t offset) {
  impl_->submit([this, key, offset] { impl_->do_ack(key, offset); });
}

void EmbeddedQueueStore::nack(const QueueKey& key, uint64_t offset) {
  impl_->submit([this, key, offset] { impl_->do_nack(key, offset); });
}

void EmbeddedQueueStore::peek(const QueueKey& key, MessageDone done) {
  impl_->submit(
      [this, key, done = std::move(done)]() mutable { impl_->do_peek(key, std::move(done)); });
}

void EmbeddedQueueStore::release(const std::string& node, const std::string& session,
                                 std::optional<std::string> topic, Done done) {
  impl_->submit([this, ses = SessionKey{node, session}, topic = std::move(topic),
                 done = std::move(done)]() mutable {
    impl_->do_release(ses, std::move(topic), /*tombstone=*/true, std::move(done));
  });
}

QueueStats EmbeddedQueueStore::stats() const { return impl_->stats(); }

std::vector<std::string> EmbeddedQueueStore::nodes_at_open() const {
  return impl_->nodes_at_open();
}

}  // namespace ptp
