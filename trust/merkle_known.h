// The nodes of one signed Merkle tree (trust/merkle.h) that a receiver has seen on inclusion
// paths already checked against its root: a further leaf of the same tree is then checked
// by hashing its path only up to the first node known at that position, and comparing the
// rest of its path with known nodes instead of hashing it (docs/evidence.md, "Statements
// and batches"). The answer is always that of merkle_root_from_path(...) == root: a path
// accepted here also verifies alone, with every hash, for a third party.
//
// Positions are (level, index) of the tree built level by level; only nodes off the tree's
// right edge are kept (there an odd last node moves up unchanged, which the RFC 9162 check
// handles by shifting; those steps are always hashed). Sparse: only the nodes of paths that
// verified are kept, at most kMaxKnownNodes (further paths are then hashed beyond them), so
// memory follows what was verified, not the n the signer claims (a peer signing batches of
// 65536 leaves made each new batch allocate 2n digests, 4.3 MB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "trust/digest.h"

namespace ptp {

class MerkleKnownNodes {
 public:
  // The most nodes one tree keeps (a batch of 2048 leaves has all its nodes kept).
  static constexpr size_t kMaxKnownNodes = 4096;

  // A tree of `n` leaves whose root was verified (a signature over it).
  MerkleKnownNodes(size_t n, const Digest32& root);

  const Digest32& root() const { return root_; }
  size_t size() const { return n_; }

  // Whether `leaf_hash` at `index` leads to root() along `path` (RFC 9162 2.1.3.2); learns
  // the nodes of a path that does. Hashes the path up to the first node already known.
  bool leads_to_root(Hasher& h, const Digest32& leaf_hash, size_t index,
                     std::span<const Digest32> path);
  // Keeps the root only (further paths are hashed in full): bounds the memory of trees
  // verified long ago.
  void forget_nodes();
  // The nodes kept (for tests and memory accounting).
  size_t known_nodes() const { return nodes_.size(); }

 private:
  struct Node {
    uint32_t level;
    uint32_t index;
    Digest32 value;
  };
  const Digest32* known(uint32_t level, size_t index) const;
  // Whether path[from..] are the known siblings of the node at (level, fn), up to the root.
  bool rest_known(std::span<const Digest32> path, size_t from, uint32_t level, size_t fn,
                  size_t sn) const;
  void learn(const std::vector<Node>& nodes);

  static uint64_t position(uint32_t level, size_t index) {
    return (static_cast<uint64_t>(level) << 32) | index;
  }

  size_t n_;
  Digest32 root_;
  bool forgotten_ = false;                        // forget_nodes: learns nothing any more
  std::unordered_map<uint64_t, Digest32> nodes_;  // by position(level, index)
  std::vector<Node> seen_;                        // scratch: the nodes of the path being checked
};

}  // namespace ptp
