#include <doctest/doctest.h>

#include "trust/digest.h"

namespace ptp {

TEST_CASE("digest: SM3 and SHA-256 known answers, one-shot and incremental") {
  // GB/T 32905 example 1, and FIPS 180-2 "abc".
  const std::string sm3_abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
  const std::string sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  CHECK(digest_hex(digest(DigestAlgorithm::kSm3, "abc")) == sm3_abc);
  CHECK(digest_hex(digest(DigestAlgorithm::kSha256, "abc")) == sha_abc);

  Hasher h(DigestAlgorithm::kSm3);
  h.update("a");
  h.update("bc");
  CHECK(digest_hex(h.finish()) == sm3_abc);
  h.update("abc");  // finish() reset it for the next message
  CHECK(digest_hex(h.finish()) == sm3_abc);
}

TEST_CASE("digest: names and hex round trip") {
  CHECK(parse_digest_algorithm("sm3") == DigestAlgorithm::kSm3);
  CHECK(parse_digest_algorithm("sha256") == DigestAlgorithm::kSha256);
  CHECK_FALSE(parse_digest_algorithm("md5"));
  CHECK(digest_algorithm_name(DigestAlgorithm::kSm3) == "sm3");
  auto d = digest(DigestAlgorithm::kSha256, "x");
  CHECK(digest_from_hex(digest_hex(d)) == d);
  CHECK_FALSE(digest_from_hex("abc"));
  CHECK_FALSE(digest_from_hex(std::string(64, 'g')));
}

}  // namespace ptp
