// Known nodes of a verified Merkle tree: for trees of 1..70 leaves, with the leaves checked
// in order, backwards and interleaved, every true path is accepted (hashing less once nodes
// are known), and a false leaf, index or any altered path digest (also above the first known
// node, which is compared rather than hashed) is refused: the answer is always
// merkle_root_from_path(...) == root.
#include <doctest/doctest.h>
#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "trust/merkle.h"
#include "trust/merkle_known.h"

namespace ptp {
namespace {

std::vector<Digest32> leaves_of(Hasher& h, size_t n, const std::string& salt) {
  std::vector<Digest32> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(merkle_leaf_hash(h, digest(h.algorithm(), salt + std::to_string(i))));
  return out;
}

// Whether the plain RFC 9162 check accepts the path.
bool plain(Hasher& h, const Digest32& leaf, size_t i, size_t n, const std::vector<Digest32>& path,
           const Digest32& root) {
  auto r = merkle_root_from_path(h, leaf, i, n, path);
  return r && *r == root;
}

std::vector<size_t> order_of(size_t n, int kind) {
  std::vector<size_t> o(n);
  for (size_t i = 0; i < n; ++i) o[i] = i;
  if (kind == 1) std::reverse(o.begin(), o.end());
  if (kind == 2)  // odd indexes first, then even ones
    std::stable_partition(o.begin(), o.end(), [](size_t i) { return i % 2 == 1; });
  return o;
}

}  // namespace

TEST_CASE("merkle known nodes: the same answers as the full check, for 1..70 leaves") {
  Hasher h;
  for (size_t n = 1; n <= 70; ++n) {
    auto leaves = leaves_of(h, n, "leaf ");
    auto levels = merkle_levels(h, leaves);
    const Digest32 root = levels.back().at(0);
    // A tree of the same size with other leaves: its nodes sit at the same positions.
    auto others = leaves_of(h, n, "other ");
    auto other_levels = merkle_levels(h, others);
    for (int kind = 0; kind < 3; ++kind) {
      MerkleKnownNodes known(n, root);
      for (size_t i : order_of(n, kind)) {
        auto path = merkle_path(levels, i);
        CAPTURE(n);
        CAPTURE(i);
        CAPTURE(kind);
        // False statements first, so that each is checked against the nodes known so far.
        if (n > 1) {
          CHECK_FALSE(known.leads_to_root(h, leaves[(i + 1) % n], i, path));
          CHECK_FALSE(known.leads_to_root(h, leaves[i], (i + 1) % n, path));
          CHECK_FALSE(known.leads_to_root(h, others[i], i, merkle_path(other_levels, i)));
        }
        for (size_t k = 0; k < path.size(); ++k) {
          auto altered = path;
          altered[k][7] ^= 0x40;
          REQUIRE_FALSE(plain(h, leaves[i], i, n, altered, root));
          CHECK_FALSE(known.leads_to_root(h, leaves[i], i, altered));
        }
        if (!path.empty()) {
          auto shorter = path;
          shorter.pop_back();
          CHECK_FALSE(known.leads_to_root(h, leaves[i], i, shorter));
        }
        auto longer = path;
        longer.push_back(root);
        CHECK_FALSE(known.leads_to_root(h, leaves[i], i, longer));
        CHECK_FALSE(known.leads_to_root(h, leaves[i], n, path));
        REQUIRE(plain(h, leaves[i], i, n, path, root));
        CHECK(known.leads_to_root(h, leaves[i], i, path));
        CHECK(known.leads_to_root(h, leaves[i], i, path));  // again, all known now
      }
      // Every leaf is known now: a path altered above the leaf is still refused.
      for (size_t i = 0; i < n; ++i) {
        auto path = merkle_path(levels, i);
        if (path.empty()) continue;
        auto altered = path;
        altered.back()[0] ^= 1;
        CHECK_FALSE(known.leads_to_root(h, leaves[i], i, altered));
      }
      known.forget_nodes();
      for (size_t i = 0; i < n; ++i)
        CHECK(known.leads_to_root(h, leaves[i], i, merkle_path(levels, i)));
    }
  }
}

TEST_CASE("merkle known nodes: a path agreeing with known nodes below an altered digest") {
  Hasher h;
  const size_t n = 64;
  auto leaves = leaves_of(h, n, "leaf ");
  auto levels = merkle_levels(h, leaves);
  MerkleKnownNodes known(n, levels.back().at(0));
  REQUIRE(known.leads_to_root(h, leaves[0], 0, merkle_path(levels, 0)));
  // Leaf 1's sibling (leaf 0) and the path above their parent are known now: an altered
  // upper digest must still be refused even though nothing above level 1 is hashed.
  auto path1 = merkle_path(levels, 1);
  auto altered = path1;
  altered[3][0] ^= 1;
  CHECK_FALSE(known.leads_to_root(h, leaves[1], 1, altered));
  CHECK(known.leads_to_root(h, leaves[1], 1, path1));
}

TEST_CASE("merkle known nodes: memory follows the verified paths, not the claimed size") {
  // n is the signer's choice (at most kMaxBatchLeaves): a tree of 65536 leaves of which one
  // path verified keeps that path's nodes, not 2n digests (4.3 MB per new batch before).
  Hasher h;
  const Digest32 leaf = merkle_leaf_hash(h, digest(h.algorithm(), "leaf"));
  std::vector<Digest32> path;
  for (int k = 0; k < 16; ++k) {
    Digest32 d{};
    d.fill(static_cast<uint8_t>(k + 1));
    path.push_back(d);
  }
  auto root = merkle_root_from_path(h, leaf, 0, 65536, path);
  REQUIRE(root.has_value());
  const size_t before = mallinfo2().uordblks;
  std::vector<MerkleKnownNodes> trees;
  trees.reserve(16);
  for (int i = 0; i < 16; ++i) {
    trees.emplace_back(65536, *root);
    CHECK(trees.back().leads_to_root(h, leaf, 0, path));
  }
  const size_t used = mallinfo2().uordblks - before;
  CHECK_MESSAGE(used < 256 * 1024, used);
  CHECK(trees.back().known_nodes() == 2 * path.size());
  // Learning stops at kMaxKnownNodes; paths beyond are still checked (in full).
  auto leaves = leaves_of(h, 4096, "many ");
  auto levels = merkle_levels(h, leaves);
  MerkleKnownNodes big(leaves.size(), levels.back().at(0));
  for (size_t i = 0; i < leaves.size(); ++i)
    REQUIRE(big.leads_to_root(h, leaves[i], i, merkle_path(levels, i)));
  CHECK(big.known_nodes() <= MerkleKnownNodes::kMaxKnownNodes);
  auto altered = merkle_path(levels, 4000);
  altered[2][0] ^= 1;
  CHECK_FALSE(big.leads_to_root(h, leaves[4000], 4000, altered));
}

}  // namespace ptp
