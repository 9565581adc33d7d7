// The batches of other nodes one thread verified (MessageSigning's cache): by key
// (node;batch;n;signature bytes), their verified tree, so that a further statement of a
// batch costs its path, not a signature check. Bounded per node as PerNodeCache is. The
// `known_trees` latest added keep the tree nodes of their paths; older ones keep only their
// root.
//
// Not thread-safe: one per MessageSigning.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "gateway/evidence/per_node_cache.h"
#include "trust/merkle_known.h"

namespace ptp {

class VerifiedBatches {
 public:
  VerifiedBatches(size_t capacity, size_t known_trees)
      : trees_(capacity), known_trees_(known_trees) {}

  // The verified tree of `key`, or null.
  MerkleKnownNodes* find(const std::string& key);
  // A batch of `node` verified now (key not cached yet).
  void add(std::string_view node, std::string key, MerkleKnownNodes tree);

  size_t size() const { return trees_.size(); }
  size_t size_of(std::string_view node) const { return trees_.size_of(node); }

 private:
  PerNodeCache<MerkleKnownNodes> trees_;
  size_t known_trees_;
  std::deque<std::string> recent_;  // the latest known_trees keys, oldest first
};

}  // namespace ptp
