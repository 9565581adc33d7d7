// The batches of other nodes one thread verified (MessageSigning's cache): by key
// (node;batch;n;signature bytes), their verified tree, so that a further statement of a
// batch costs its path, not a signature check. Bounded at `capacity` entries shared between
// the signing nodes: when full, the node holding the most entries loses its oldest one, so
// a peer signing a new batch per message evicts its own entries, never those of a peer
// holding fewer (before, one FIFO: 4096 new batches of one peer flushed every other peer's,
// which then paid a signature check per message again). The `known_trees` latest added
// keep the tree nodes of their paths; older ones keep only their root.
//
// Not thread-safe: one per MessageSigning.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include "trust/merkle_known.h"

namespace ptp {

class VerifiedBatches {
 public:
  VerifiedBatches(size_t capacity, size_t known_trees)
      : capacity_(capacity), known_trees_(known_trees) {}

  // The verified tree of `key`, or null.
  MerkleKnownNodes* find(const std::string& key);
  // A batch of `node` verified now (key not cached yet).
  void add(std::string_view node, std::string key, MerkleKnownNodes tree);

  size_t size() const { return trees_.size(); }
  size_t size_of(std::string_view node) const;

 private:
  void evict_one(const std::string& adding);

  size_t capacity_;
  size_t known_trees_;
  std::unordered_map<std::string, MerkleKnownNodes> trees_;
  std::unordered_map<std::string, std::deque<std::string>> by_node_;  // keys, oldest first
  std::deque<std::string> recent_;  // the latest known_trees keys, oldest first
};

}  // namespace ptp
