// A cache of what one thread verified for other nodes (batches, statements), bounded at
// `capacity` entries shared between the signing nodes: when full, the node holding the most
// entries loses its oldest one, so a peer signing a new batch per message evicts its own
// entries, never those of a peer holding fewer (one FIFO would let 4096 new batches of one
// peer flush every other peer's, which would then pay a signature check per message again).
//
// Not thread-safe: one per MessageSigning.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace ptp {

template <class T>
class PerNodeCache {
 public:
  explicit PerNodeCache(size_t capacity) : capacity_(capacity) {}

  T* find(const std::string& key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  // An entry of `node` (key not cached yet; a cached key is left as it is). Returns the
  // entry, or null with a capacity of 0; `value` is moved from only when it is taken.
  T* add(std::string_view node, std::string key, T&& value) {
    if (capacity_ == 0) return nullptr;
    if (T* have = find(key)) return have;
    const std::string signer(node);
    while (entries_.size() >= capacity_) evict_one(signer);
    by_node_[signer].push_back(key);
    return &entries_.emplace(std::move(key), std::move(value)).first->second;
  }

  size_t size() const { return entries_.size(); }
  size_t size_of(std::string_view node) const {
    auto it = by_node_.find(std::string(node));
    return it == by_node_.end() ? 0 : it->second.size();
  }

 private:
  void evict_one(const std::string& adding) {
    // The node with the most entries (few nodes: those with a pinned root) loses its oldest;
    // the adding node first among equals.
    auto largest = by_node_.find(adding);
    for (auto it = by_node_.begin(); it != by_node_.end(); ++it)
      if (largest == by_node_.end() || it->second.size() > largest->second.size()) largest = it;
    if (largest == by_node_.end()) return;
    entries_.erase(largest->second.front());
    largest->second.pop_front();
    if (largest->second.empty()) by_node_.erase(largest);
  }

  size_t capacity_;
  std::unordered_map<std::string, T> entries_;
  std::unordered_map<std::string, std::deque<std::string>> by_node_;  // keys, oldest first
};

}  // namespace ptp
