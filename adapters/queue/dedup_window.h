// Message ids acknowledged recently, per queue (docs/queues.md): a push that carries one
// of them is acknowledged again but not stored twice. Ids leave in the order they were
// acknowledged — once older than the window, or, the oldest first, as soon as more than
// `max_ids` are held — so expiry costs only what expires and memory stays bounded
// whatever the message rate. Used under its store's lock; not thread-safe by itself.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "adapters/queue/queue_store.h"

namespace ptp {

// Time: the store's timestamp type (unix seconds on disk, or a steady clock).
template <class Time>
class DedupWindow {
 public:
  explicit DedupWindow(size_t max_ids) : max_ids_(max_ids) {}

  bool contains(const QueueKey& key, const std::string& id) const {
    auto q = ids_.find(key);
    return q != ids_.end() && q->second.count(id) > 0;
  }

  // Remembers `id` as acknowledged at `at`; on_forget(key, id) runs for each id the cap
  // pushes out. Ids should come in ack order (older ones may stay a little longer).
  template <class OnForget>
  void remember(const QueueKey& key, const std::string& id, Time at, OnForget&& on_forget) {
    if (max_ids_ == 0) return;
    auto [it, added] = ids_[key].insert_or_assign(id, at);
    order_.push_back({key, id, at});
    if (added) ++held_;
    while (held_ > max_ids_ && !order_.empty()) forget_front(on_forget);
  }

  // Forgets the ids acknowledged before `cutoff`.
  template <class OnForget>
  void expire(Time cutoff, OnForget&& on_forget) {
    while (!order_.empty() && order_.front().at < cutoff) forget_front(on_forget);
  }

  // Forgets every id of the queues `match(key)` selects (a release).
  template <class Match, class OnForget>
  void forget_queues(Match&& match, OnForget&& on_forget) {
    for (auto q = ids_.begin(); q != ids_.end();) {
      if (match(q->first)) {
        for (const auto& [id, at] : q->second) on_forget(q->first, id);
        held_ -= q->second.size();
        q = ids_.erase(q);
      } else {
        ++q;
      }
    }
    // Their entries in order_ are skipped when they reach the front.
  }

  size_t size() const { return held_; }

 private:
  struct Entry {
    QueueKey key;
    std::string id;
    Time at;
  };

  template <class OnForget>
  void forget_front(OnForget& on_forget) {
    Entry& e = order_.front();
    if (auto q = ids_.find(e.key); q != ids_.end()) {
      // Skip an entry whose id was forgotten (release) and acknowledged again since.
      if (auto a = q->second.find(e.id); a != q->second.end() && a->second == e.at) {
        on_forget(e.key, e.id);
        q->second.erase(a);
        --held_;
        if (q->second.empty()) ids_.erase(q);
      }
    }
    order_.pop_front();
  }

  size_t max_ids_;
  size_t held_ = 0;  // ids in ids_ (order_ may also hold entries of forgotten ones)
  std::map<QueueKey, std::unordered_map<std::string, Time>> ids_;
  std::deque<Entry> order_;  // in ack order
};

}  // namespace ptp
