// The batch signer: a full batch is signed at once, a partial one when its window ends (or
// at the end of the event loop's turn with window 0); every leaf's proof checks alone
// against the node key; a key change signs the batch so far first; sign_soon() signs a
// windowed batch at the end of the loop's turn.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "gateway/evidence/batch_signer.h"
#include "tests/unit/trust/trust_test_support.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

Digest32 leaf_of(int i) { return digest(DigestAlgorithm::kSha256, "leaf " + std::to_string(i)); }

void check_proofs(const std::vector<std::string>& proofs, const PublicKey& pub, int first) {
  Hasher h;
  for (size_t i = 0; i < proofs.size(); ++i) {
    BatchProof p;
    std::string error;
    REQUIRE_MESSAGE(parse_batch_proof(proofs[i], p, error), error);
    CHECK(p.node == "A");
    CHECK(p.index == i);
    CHECK(verify_statement(h, leaf_of(first + static_cast<int>(i)), p, pub, error));
  }
}

}  // namespace

TEST_CASE("batch signer: full batches at once, partial ones at the window's end") {
  boost::asio::io_context io;
  auto key = std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  PublicKey pub = testing::public_of(*key);
  BatchSigner signer(io.get_executor());
  std::vector<std::string> proofs;
  auto add = [&](int i, std::chrono::microseconds window) {
    signer.add(key, "A", DigestAlgorithm::kSha256, leaf_of(i), window, 4,
               [&](std::string_view p) { proofs.emplace_back(p); });
  };
  for (int i = 0; i < 4; ++i) add(i, std::chrono::microseconds(100000));
  REQUIRE(proofs.size() == 4);  // signed when the fourth joined, no event loop needed
  check_proofs(proofs, pub, 0);
  CHECK(signer.batches() == 1);

  proofs.clear();
  for (int i = 10; i < 13; ++i) add(i, std::chrono::microseconds(2000));
  CHECK(proofs.empty());
  io.run_for(std::chrono::milliseconds(200));
  REQUIRE(proofs.size() == 3);
  check_proofs(proofs, pub, 10);
  CHECK(signer.batches() == 2);

  proofs.clear();
  io.restart();
  for (int i = 20; i < 23; ++i) add(i, std::chrono::microseconds(0));
  CHECK(proofs.empty());
  io.poll();  // the end of the loop's turn
  REQUIRE(proofs.size() == 3);
  check_proofs(proofs, pub, 20);
}

TEST_CASE("batch signer: another key or node signs the batch so far first") {
  boost::asio::io_context io;
  auto key = std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEd25519));
  auto other = std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEd25519));
  BatchSigner signer(io.get_executor());
  std::vector<std::string> proofs;
  const auto w = std::chrono::microseconds(100000);
  signer.add(key, "A", DigestAlgorithm::kSha256, leaf_of(0), w, 16,
             [&](std::string_view p) { proofs.emplace_back(p); });
  signer.add(other, "A", DigestAlgorithm::kSha256, leaf_of(1), w, 16,
             [&](std::string_view p) { proofs.emplace_back(p); });
  REQUIRE(proofs.size() == 1);
  check_proofs(proofs, testing::public_of(*key), 0);
  signer.flush();
  REQUIRE(proofs.size() == 2);
  BatchProof p;
  std::string error;
  REQUIRE(parse_batch_proof(proofs[1], p, error));
  Hasher h;
  CHECK(verify_statement(h, leaf_of(1), p, testing::public_of(*other), error));
  CHECK_FALSE(verify_statement(h, leaf_of(1), p, testing::public_of(*key), error));
}

TEST_CASE("batch signer: sign_soon signs at the end of the loop's turn, not the window's") {
  boost::asio::io_context io;
  auto key = std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  BatchSigner signer(io.get_executor());
  std::vector<std::string> proofs;
  const auto window = std::chrono::seconds(30);
  for (int i = 0; i < 3; ++i)
    signer.add(key, "A", DigestAlgorithm::kSha256, leaf_of(i), window, 16,
               [&](std::string_view p) { proofs.emplace_back(p); });
  signer.sign_soon();
  signer.sign_soon();  // once per batch
  CHECK(proofs.empty());
  io.poll();
  REQUIRE(proofs.size() == 3);
  check_proofs(proofs, testing::public_of(*key), 0);
  CHECK(signer.batches() == 1);
  // The next batch waits for its window again (or the next sign_soon).
  proofs.clear();
  signer.add(key, "A", DigestAlgorithm::kSha256, leaf_of(5), window, 16,
             [&](std::string_view p) { proofs.emplace_back(p); });
  io.poll();
  CHECK(proofs.empty());
  signer.sign_soon();
  io.poll();
  CHECK(proofs.size() == 1);
  signer.sign_soon();  // nothing pending: nothing happens
  io.poll();
  CHECK(signer.batches() == 2);
}

}  // namespace ptp
