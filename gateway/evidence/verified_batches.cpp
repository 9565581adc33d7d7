#include "gateway/evidence/verified_batches.h"

#include <utility>

namespace ptp {

MerkleKnownNodes* VerifiedBatches::find(const std::string& key) { return trees_.find(key); }

void VerifiedBatches::add(std::string_view node, std::string key, MerkleKnownNodes tree) {
  if (trees_.find(key)) return;
  if (known_trees_ == 0) tree.forget_nodes();
  if (!trees_.add(node, key, std::move(tree))) return;
  if (known_trees_ == 0) return;
  if (recent_.size() >= known_trees_) {
    // The oldest of the latest trees keeps its root only (if it is still cached).
    if (auto* old = find(recent_.front())) old->forget_nodes();
    recent_.pop_front();
  }
  recent_.push_back(std::move(key));
}

}  // namespace ptp
