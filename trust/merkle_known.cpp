#include "trust/merkle_known.h"

#include "trust/merkle.h"

namespace ptp {

MerkleKnownNodes::MerkleKnownNodes(size_t n, const Digest32& root) : n_(n), root_(root) {}

const Digest32* MerkleKnownNodes::known(uint32_t level, size_t index) const {
  if (nodes_.empty()) return nullptr;
  auto it = nodes_.find(position(level, index));
  return it == nodes_.end() ? nullptr : &it->second;
}

bool MerkleKnownNodes::rest_known(std::span<const Digest32> path, size_t from, uint32_t level,
                                  size_t fn, size_t sn) const {
  for (size_t k = from; k < path.size(); ++k, ++level, fn >>= 1, sn >>= 1) {
    if (fn >= sn) return false;  // the right edge: hashed by the caller
    const Digest32* sibling = known(level, fn ^ 1);
    if (!sibling || *sibling != path[k]) return false;
  }
  return sn == 0;  // the path ends at the root
}

void MerkleKnownNodes::forget_nodes() {
  forgotten_ = true;
  nodes_ = {};
  seen_ = {};  // its capacity too: thousands of old trees stay cached by their root
}

void MerkleKnownNodes::learn(const std::vector<Node>& nodes) {
  if (forgotten_) return;
  // Each node of a verified path is a true node of the tree: any subset may be kept.
  for (const Node& s : nodes) {
    if (nodes_.size() >= kMaxKnownNodes) return;
    nodes_.try_emplace(position(s.level, s.index), s.value);
  }
}

bool MerkleKnownNodes::leads_to_root(Hasher& h, const Digest32& leaf_hash, size_t index,
                                     std::span<const Digest32> path) {
  if (index >= n_) return false;
  seen_.clear();
  size_t fn = index, sn = n_ - 1;
  uint32_t level = 0;
  bool positioned = true;  // (level, fn) is r's position: no right-edge step yet
  Digest32 r = leaf_hash;
  for (size_t k = 0; k < path.size(); ++k) {
    const Digest32& p = path[k];
    if (sn == 0) return false;
    if (positioned && fn < sn) {
      if (const Digest32* node = known(level, fn)) {
        if (*node != r) return false;  // another value where the tree has a verified node
        if (rest_known(path, k, level, fn, sn)) {
          learn(seen_);
          return true;
        }
      }
      seen_.push_back({level, static_cast<uint32_t>(fn), r});
      seen_.push_back({level, static_cast<uint32_t>(fn ^ 1), p});
      r = (fn & 1) ? merkle_node_hash(h, p, r) : merkle_node_hash(h, r, p);
      fn >>= 1;
      sn >>= 1;
      ++level;
      continue;
    }
    // The right edge (RFC 9162 2.1.3.2, as merkle_root_from_path): no positions kept.
    positioned = false;
    merkle_path_step(h, p, r, fn, sn);
  }
  if (sn != 0 || r != root_) return false;
  learn(seen_);
  return true;
}

}  // namespace ptp
