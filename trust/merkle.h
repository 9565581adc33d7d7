// Merkle trees of RFC 6962 (section 2.1) over the leaves of one signed batch
// (docs/evidence.md, "Signatures and receipts"): leaf hash = H(0x00 || data), node hash =
// H(0x01 || left || right), with the digest of the crypto profile (SHA-256 or SM3). A tree
// of n leaves splits at the largest power of two below n; built level by level, an odd last
// node moves up a level unchanged, which gives the same root. Inclusion paths and their
// check are those of RFC 9162 section 2.1.3.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "trust/digest.h"

namespace ptp {

Digest32 merkle_leaf_hash(Hasher& h, const Digest32& data);
Digest32 merkle_node_hash(Hasher& h, const Digest32& left, const Digest32& right);

// All levels of the tree over `leaf_hashes` (level 0 = the leaf hashes, the last level =
// the root alone). At least one leaf.
std::vector<std::vector<Digest32>> merkle_levels(Hasher& h, std::vector<Digest32> leaf_hashes);
// The inclusion path of leaf `index` in a tree given by its levels.
std::vector<Digest32> merkle_path(const std::vector<std::vector<Digest32>>& levels, size_t index);

// One step up an inclusion path (RFC 9162 2.1.3.2): `r`, the node at position `fn` of a
// level whose last position is `sn`, joins its sibling `p` (on the right edge, after the
// levels where it had none); fn and sn move to the next level with a sibling. sn != 0 on
// entry.
void merkle_path_step(Hasher& h, const Digest32& p, Digest32& r, size_t& fn, size_t& sn);

// The root a leaf hash at `index` of a tree of `n` leaves leads to along `path`; nullopt
// when index >= n or the path has the wrong length for (index, n).
std::optional<Digest32> merkle_root_from_path(Hasher& h, const Digest32& leaf_hash, size_t index,
                                              size_t n, std::span<const Digest32> path);

}  // namespace ptp
