// VerifiedBatches: bounded, shared between signing nodes (the largest holder loses its
// oldest entry), the latest trees keep their nodes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gateway/evidence/verified_batches.h"
#include "trust/merkle.h"

namespace ptp {

TEST_CASE("verified batches: the node holding the most entries loses its oldest") {
  VerifiedBatches cache(8, 2);
  const Digest32 root{};
  cache.add("Y", "y-0", MerkleKnownNodes(2, root));
  cache.add("Y", "y-1", MerkleKnownNodes(2, root));
  for (int i = 0; i < 100; ++i) cache.add("X", "x-" + std::to_string(i), MerkleKnownNodes(2, root));
  CHECK(cache.size() == 8);
  CHECK(cache.size_of("Y") == 2);
  CHECK(cache.size_of("X") == 6);
  CHECK(cache.find("y-0"));
  CHECK(cache.find("y-1"));
  CHECK(cache.find("x-99"));
  CHECK(cache.find("x-94"));
  CHECK_FALSE(cache.find("x-93"));  // X's oldest went first
  // Y growing past X's share: then Y is the largest and loses its own oldest.
  for (int i = 2; i < 7; ++i) cache.add("Y", "y-" + std::to_string(i), MerkleKnownNodes(2, root));
  CHECK(cache.size() == 8);
  CHECK(cache.size_of("Y") == 4);
  CHECK(cache.size_of("X") == 4);
  CHECK(cache.find("y-6"));
  // An entry already cached is not added twice.
  cache.add("Y", "y-6", MerkleKnownNodes(2, root));
  CHECK(cache.size_of("Y") == 4);
}

TEST_CASE("verified batches: only the latest trees keep their nodes") {
  VerifiedBatches cache(16, 2);
  Hasher h;
  const Digest32 leaf = merkle_leaf_hash(h, digest(h.algorithm(), "leaf"));
  std::vector<Digest32> path(3);
  for (size_t k = 0; k < path.size(); ++k) path[k].fill(static_cast<uint8_t>(k + 1));
  auto root = merkle_root_from_path(h, leaf, 0, 8, path);
  REQUIRE(root.has_value());
  for (int i = 0; i < 3; ++i) {
    MerkleKnownNodes t(8, *root);
    REQUIRE(t.leads_to_root(h, leaf, 0, path));
    cache.add("X", "t-" + std::to_string(i), std::move(t));
  }
  CHECK(cache.find("t-0")->known_nodes() == 0);  // its root only
  CHECK(cache.find("t-1")->known_nodes() == 6);
  CHECK(cache.find("t-2")->known_nodes() == 6);
  CHECK(cache.find("t-0")->leads_to_root(h, leaf, 0, path));  // hashed in full
}

}  // namespace ptp
