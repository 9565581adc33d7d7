// RFC 6962 Merkle trees: roots against the recursive definition, every inclusion path of
// trees of 1..33 leaves verifies, and fails for another leaf, index or path (the size is
// bound by the batch signature's text, not by the hashes).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "trust/merkle.h"

namespace ptp {
namespace {

// MTH of RFC 6962 section 2.1, written as the RFC states it (split at the largest power of
// two smaller than n).
Digest32 mth(Hasher& h, const std::vector<Digest32>& leaves, size_t lo, size_t hi) {
  if (hi - lo == 1) return leaves[lo];
  size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return merkle_node_hash(h, mth(h, leaves, lo, lo + k), mth(h, leaves, lo + k, hi));
}

std::vector<Digest32> leaves_of(Hasher& h, size_t n) {
  std::vector<Digest32> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(merkle_leaf_hash(h, digest(h.algorithm(), std::to_string(i))));
  return out;
}

}  // namespace

TEST_CASE("merkle: leaf and node hashes carry the RFC 6962 prefixes") {
  Hasher h;
  Digest32 d = digest(DigestAlgorithm::kSha256, "x");
  std::string data(1, '\0');
  data.append(reinterpret_cast<const char*>(d.data()), 32);
  CHECK(merkle_leaf_hash(h, d) == digest(DigestAlgorithm::kSha256, data));
  std::string node(1, '\1');
  node.append(reinterpret_cast<const char*>(d.data()), 32);
  node.append(reinterpret_cast<const char*>(d.data()), 32);
  CHECK(merkle_node_hash(h, d, d) == digest(DigestAlgorithm::kSha256, node));
}

TEST_CASE("merkle: roots and inclusion paths for 1..33 leaves (SHA-256 and SM3)") {
  for (auto alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSm3}) {
    Hasher h(alg);
    for (size_t n = 1; n <= 33; ++n) {
      auto leaves = leaves_of(h, n);
      auto levels = merkle_levels(h, leaves);
      const Digest32 root = levels.back().at(0);
      REQUIRE(root == mth(h, leaves, 0, n));
      for (size_t i = 0; i < n; ++i) {
        auto path = merkle_path(levels, i);
        auto got = merkle_root_from_path(h, leaves[i], i, n, path);
        REQUIRE(got.has_value());
        CHECK(*got == root);
        // Another leaf, index or size does not lead to the root.
        if (n > 1) {
          auto other = merkle_root_from_path(h, leaves[(i + 1) % n], i, n, path);
          CHECK((!other || *other != root));
          auto moved = merkle_root_from_path(h, leaves[i], (i + 1) % n, n, path);
          CHECK((!moved || *moved != root));
        }
        if (!path.empty()) {
          auto altered = path;
          altered[0][5] ^= 1;
          auto bad = merkle_root_from_path(h, leaves[i], i, n, altered);
          CHECK((!bad || *bad != root));
          altered.pop_back();
          auto shorter = merkle_root_from_path(h, leaves[i], i, n, altered);
          CHECK((!shorter || *shorter != root));
        }
      }
      CHECK_FALSE(merkle_root_from_path(h, leaves[0], n, n, merkle_path(levels, 0)).has_value());
    }
  }
}

}  // namespace ptp
