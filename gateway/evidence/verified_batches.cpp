#include "gateway/evidence/verified_batches.h"

#include <utility>

namespace ptp {

MerkleKnownNodes* VerifiedBatches::find(const std::string& key) {
  auto it = trees_.find(key);
  return it == trees_.end() ? nullptr : &it->second;
}

size_t VerifiedBatches::size_of(std::string_view node) const {
  auto it = by_node_.find(std::string(node));
  return it == by_node_.end() ? 0 : it->second.size();
}

void VerifiedBatches::evict_one(const std::string& adding) {
  // The node with the most entries (few nodes: those with a pinned root) loses its oldest;
  // the adding node first among equals.
  auto largest = by_node_.find(adding);
  for (auto it = by_node_.begin(); it != by_node_.end(); ++it)
    if (largest == by_node_.end() || it->second.size() > largest->second.size()) largest = it;
  if (largest == by_node_.end()) return;
  trees_.erase(largest->second.front());
  largest->second.pop_front();
  if (largest->second.empty()) by_node_.erase(largest);
}

void VerifiedBatches::add(std::string_view node, std::string key, MerkleKnownNodes tree) {
  if (capacity_ == 0 || trees_.contains(key)) return;
  const std::string signer(node);
  while (trees_.size() >= capacity_) evict_one(signer);
  if (known_trees_ > 0 && recent_.size() >= known_trees_) {
    // The oldest of the latest trees keeps its root only (if it is still cached).
    if (auto* old = find(recent_.front())) old->forget_nodes();
    recent_.pop_front();
  }
  if (known_trees_ > 0)
    recent_.push_back(key);
  else
    tree.forget_nodes();
  by_node_[signer].push_back(key);
  trees_.emplace(std::move(key), std::move(tree));
}

}  // namespace ptp
