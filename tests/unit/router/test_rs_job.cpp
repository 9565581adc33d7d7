// The router-server conversion job without I/O (router/rs): job spec and chunk descriptor
// parsing, share accumulation with its checks, encryption of the sum and combination.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/he_wire.h"
#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"
#include "router/rs/job_spec.h"
#include "router/rs/parallel_encrypt.h"
#include "router/rs/rs_job.h"
#include "router/rs/worker_pool.h"
#include "router/shares/prg.h"
#include "router/shares/share_vector.h"

using namespace ptp;
using namespace ptp::rs;
using shares::i128;
using shares::u128;

namespace {

constexpr int kTestBits = 1024;

const he::PrivateKey& test_key() {
  static const he::PrivateKey key = he::generate_private_key(kTestBits, kTestBits);
  return key;
}

JobSpec make_spec(int ring, uint64_t elements, int parties, uint64_t chunk_elements = 4) {
  JobSpec s;
  s.job_id = "job-1";
  s.ring_bits = ring;
  s.elements = elements;
  s.parties = parties;
  for (int i = 1; i <= parties; ++i) s.party_nodes.push_back("S" + std::to_string(i));
  s.he_node = "H";
  s.public_key = he::encode_public_key(test_key().public_key());
  s.fingerprint = he::public_key_fingerprint(test_key().public_key());
  s.chunk_elements = chunk_elements;
  return s;
}

RsSettings settings(Role role = Role::kA, CombineAt c = CombineAt::kRc) {
  RsSettings st;
  st.role = role;
  st.combine_at = c;
  st.min_key_bits = kTestBits;
  return st;
}

std::string bytes_of(const shares::ShareVector& v, uint64_t first, uint64_t count) {
  auto all = v.to_bytes();
  const size_t w = v.element_bytes();
  return std::string(reinterpret_cast<const char*>(all.data()) + first * w, count * w);
}

ChunkInfo share_info(uint64_t chunk, uint64_t chunks, uint64_t elements, uint64_t offset,
                     int ring) {
  ChunkInfo c;
  c.chunk = chunk;
  c.chunks = chunks;
  c.elements = elements;
  c.offset = offset;
  c.ring_bits = ring;
  return c;
}

// Feeds `part` to `job` as `party` in chunks of `per_chunk` elements.
void send_part(RsJob& job, int party, const shares::ShareVector& part, uint64_t per_chunk) {
  const uint64_t n = part.size();
  const uint64_t chunks = chunk_count(n, per_chunk);
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t first = c * per_chunk;
    const uint64_t count = std::min(per_chunk, n - first);
    job.add_share(party, share_info(c, chunks, n, first, part.ring_bits()),
                  bytes_of(part, first, count));
  }
}

std::vector<i128> decrypt_all(const std::vector<he::Ciphertext>& cts) {
  std::vector<i128> out;
  for (const auto& c : cts) {
    he::Bn m = he::decrypt(test_key(), c);
    auto v = he::bn_to_i128(m.get());
    REQUIRE(v);
    out.push_back(*v);
  }
  return out;
}

// The x of the flow, as the HE platform sees it: the sum of the two signed halves.
std::vector<i128> signed_halves_sum(const shares::ShareVector& y1, const shares::ShareVector& y2) {
  std::vector<i128> out;
  for (size_t i = 0; i < y1.size(); ++i) out.push_back(y1.to_signed(i) + y2.to_signed(i));
  return out;
}

}  // namespace

TEST_CASE("rs job spec round-trips through JSON and rejects bad fields") {
  JobSpec s = make_spec(128, 10, 3);
  s.combine_at = CombineAt::kRsA;
  s.frac_bits = 16;
  JobSpec back = parse_job_spec(encode_job_spec(s));
  CHECK(back.job_id == s.job_id);
  CHECK(back.ring_bits == 128);
  CHECK(back.elements == 10);
  CHECK(back.parties == 3);
  CHECK(back.party_nodes == std::vector<std::string>{"S1", "S2", "S3"});
  CHECK(back.frac_bits == 16);
  CHECK(back.he_node == "H");
  CHECK(back.public_key == s.public_key);
  CHECK(back.fingerprint == s.fingerprint);
  CHECK(back.combine_at == CombineAt::kRsA);
  CHECK(back.chunk_elements == 4);

  auto rejects = [](const std::string& json, const char* msg) {
    CHECK_THROWS_WITH_AS(parse_job_spec(json), doctest::Contains(msg), std::invalid_argument);
  };
  rejects("nope", "not valid JSON");
  rejects("[]", "expected a JSON object");
  rejects(R"({"ring_bits":64})", "missing field job_id");
  const std::string base =
      R"("ring_bits":64,"elements":5,"parties":3,"party_nodes":["S","S","T"],"he_node":"H",)"
      R"("public_key":"AAAA")";
  rejects(R"({"job_id":"a b",)" + base + "}", "job_id must be");
  rejects(
      R"({"job_id":"j","ring_bits":32,"elements":5,"parties":3,"he_node":"H","public_key":"AAAA"})",
      "ring_bits");
  rejects(
      R"({"job_id":"j","ring_bits":64,"elements":5,"parties":1,"he_node":"H","public_key":"AAAA"})",
      "field parties is 1");
  rejects(
      R"({"job_id":"j","ring_bits":64,"elements":0,"parties":2,"he_node":"H","public_key":"AAAA"})",
      "field elements is 0");
  rejects(
      R"({"job_id":"j","ring_bits":64,"elements":-1,"parties":2,"he_node":"H","public_key":"AAAA"})",
      "field elements must be an integer");
  rejects(R"({"job_id":"j",)" + base + R"(,"combine_at":"he"})", "combine_at must be");
  rejects(R"({"job_id":"j",)" + base + R"(,"output_mode":"plain"})", "output_mode must be");
  rejects(R"({"job_id":"j",)" + base + R"(,"fingerprint":"ABC"})", "fingerprint must be");
  rejects(R"({"job_id":"j",)" + base + R"(,"extra":1})", "unknown field extra");
  rejects(R"({"job_id":"j","ring_bits":64,"elements":5,"parties":3,"party_nodes":["S","S","S"],)"
          R"("he_node":"H","public_key":"*"})",
          "public_key is not base64");
  // Every party's node, one per party.
  rejects(
      R"({"job_id":"j","ring_bits":64,"elements":5,"parties":3,"he_node":"H","public_key":"AAAA"})",
      "missing field party_nodes");
  rejects(R"({"job_id":"j","ring_bits":64,"elements":5,"parties":3,"party_nodes":["S","S"],)"
          R"("he_node":"H","public_key":"AAAA"})",
          "party_nodes must be a list of 3 node ids, the node of each party 1..3");
  rejects(R"({"job_id":"j","ring_bits":64,"elements":5,"parties":2,"party_nodes":"S",)"
          R"("he_node":"H","public_key":"AAAA"})",
          "party_nodes must be a list of 2 node ids");
  rejects(R"({"job_id":"j","ring_bits":64,"elements":5,"parties":2,"party_nodes":["S","a b"],)"
          R"("he_node":"H","public_key":"AAAA"})",
          "party_nodes[1] is not a valid node id");
}

TEST_CASE("rs job chunk descriptors and topics") {
  ChunkInfo c = share_info(2, 7, 100000, 32768, 64);
  CHECK(encode_chunk_info(c) == "chunk=2 chunks=7 elements=100000 offset=32768 ring=64");
  ChunkInfo back = parse_chunk_info(encode_chunk_info(c));
  CHECK(back.chunk == 2);
  CHECK(back.chunks == 7);
  CHECK(back.elements == 100000);
  CHECK(back.offset == 32768);
  CHECK(back.ring_bits == 64);
  ChunkInfo r;
  r.chunk = 0;
  r.chunks = 1;
  r.elements = 3;
  r.key = "ab";
  CHECK(parse_chunk_info(encode_chunk_info(r)).key == "ab");
  for (const char* bad :
       {"", "chunk=1 chunks=1 elements=5 offset=0", "chunk=0 chunks=1",
        "chunk=0 chunks=1 elements=5 offset=5", "chunk=0 chunks=1 elements=5 offset=0 ring=32",
        "chunk=0 chunk=0 chunks=1 elements=5 offset=0", "chunk=x chunks=1 elements=5 offset=0",
        "chunk=0 chunks=1 elements=5 offset=0 extra=1"})
    CHECK_THROWS_AS(parse_chunk_info(bad), std::invalid_argument);

  CHECK(share_topic(3) == "rs.share.3");
  CHECK(party_of_topic("rs.share.3") == 3);
  CHECK(party_of_topic("rs.share.12") == 12);
  CHECK_FALSE(party_of_topic("rs.share.03"));
  CHECK_FALSE(party_of_topic("rs.share.0"));
  CHECK_FALSE(party_of_topic("rs.share."));
  CHECK_FALSE(party_of_topic("rs.job"));
  CHECK(chunk_count(10, 4) == 3);
  CHECK(chunk_count(8, 4) == 2);
  CHECK(result_message_id("job-1", 'A', 3) == "job-1.A.3");
}

TEST_CASE("rs job worker pool runs every index once and rethrows") {
  WorkerPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(hits.size(), [&](size_t i) { hits[i]++; });
  for (auto& h : hits) CHECK(h.load() == 1);
  CHECK_THROWS_WITH_AS(pool.parallel_for(100,
                                         [](size_t i) {
                                           if (i == 42) throw std::runtime_error("boom");
                                         }),
                       "boom", std::runtime_error);
  pool.parallel_for(0, [](size_t) { FAIL("no calls for n = 0"); });
}

TEST_CASE("rs parallel_encrypt encrypts every element once, in lane groups, and cancels") {
  WorkerPool pool(2);
  constexpr size_t kLanes = he::FixedBaseTable::kBatchLanes;
  for (size_t count : {size_t{0}, size_t{1}, kLanes - 1, kLanes, kLanes + 1, 3 * kLanes + 5}) {
    CAPTURE(count);
    std::vector<std::atomic<int>> calls(count);
    auto value = [](size_t i) { return static_cast<i128>(i) * (i % 2 ? -7919 : 104729); };
    std::vector<he::Ciphertext> out = parallel_encrypt(
        test_key().public_key(), count,
        [&](size_t i) {
          calls[i]++;
          return he::bn_from_i128(value(i));
        },
        pool);
    REQUIRE(out.size() == count);
    for (auto& c : calls) CHECK(c.load() == 1);
    const std::vector<i128> got = decrypt_all(out);
    for (size_t i = 0; i < count; ++i) CHECK(got[i] == value(i));
  }
  // Cancelled before it starts: no plaintext is read, every result stays null.
  std::atomic<bool> cancel{true};
  std::vector<he::Ciphertext> out = parallel_encrypt(
      test_key().public_key(), 2 * kLanes,
      [](size_t) -> he::Bn {
        FAIL("plaintext read after cancel");
        return he::bn_from_i64(0);
      },
      pool, &cancel);
  REQUIRE(out.size() == 2 * kLanes);
  for (const auto& c : out) CHECK(c.get() == nullptr);
}

TEST_CASE("rs job converts n-party shares into [x] for l = 64 and 128, n = 2..4") {
  WorkerPool pool(2);
  shares::Prg prg;
  for (int ring : {64, 128}) {
    for (int n : {2, 3, 4}) {
      CAPTURE(ring);
      CAPTURE(n);
      const uint64_t k = 11;
      // x with 0, +-1 and large magnitudes; random x_i summing to x; each x_i split in two.
      shares::ShareVector x(ring, k);
      const i128 big = ring == 64 ? (i128{1} << 40) : (i128{1} << 100);
      const i128 vals[] = {0, 1, -1, big, -big, 12345, -67890, 7, 8, 9, 10};
      for (uint64_t i = 0; i < k; ++i) x.set(i, static_cast<u128>(vals[i]));
      std::vector<shares::ShareVector> xs;
      shares::ShareVector rest = x;
      for (int p = 1; p < n; ++p) {
        auto [a, b] = shares::split(rest, prg);
        xs.push_back(std::move(a));
        rest = std::move(b);
      }
      xs.push_back(rest);
      RsJob ja(make_spec(ring, k, n), settings(Role::kA));
      RsJob jb(make_spec(ring, k, n), settings(Role::kB));
      std::vector<shares::ShareVector> as, bs;
      for (int p = 1; p <= n; ++p) {
        auto [a, b] = shares::split(xs[static_cast<size_t>(p - 1)], prg);
        CHECK_FALSE(ja.complete());
        send_part(ja, p, a, 3);  // share chunks need not align with result chunks (4)
        send_part(jb, p, b, 5);
        as.push_back(std::move(a));
        bs.push_back(std::move(b));
      }
      REQUIRE(ja.complete());
      REQUIRE(jb.complete());
      CHECK(ja.parties_complete() == n);
      CHECK(ja.missing().empty());
      CHECK(ja.result_chunks() == 3);
      std::vector<he::Ciphertext> sum;
      for (uint64_t c = 0; c < ja.result_chunks(); ++c) {
        auto ca = ja.encrypt_chunk(c, pool);
        auto cb = jb.encrypt_chunk(c, pool);
        CHECK(ca.size() == ja.result_count(c));
        // What the RC does: add the halves.
        for (size_t i = 0; i < ca.size(); ++i)
          sum.push_back(he::add(test_key().public_key(), ca[i], cb[i]));
      }
      REQUIRE(sum.size() == k);
      const std::vector<i128> got = decrypt_all(sum);
      // Exact unless a signed half wrapped, which has probability ~|x| / 2^l per element.
      const shares::ShareVector y1 = shares::sum(as), y2 = shares::sum(bs);
      CHECK(got == signed_halves_sum(y1, y2));
      for (uint64_t i = 0; i < k; ++i) {
        CAPTURE(i);
        CHECK(got[i] == vals[i]);
      }
    }
  }
}

TEST_CASE("rs job combine at RS-A adds RS-B's half and checks its descriptor") {
  WorkerPool pool(2);
  shares::Prg prg;
  const uint64_t k = 6;
  shares::ShareVector x(64, k);
  for (uint64_t i = 0; i < k; ++i) x.set(i, static_cast<u128>(static_cast<i128>(i) - 3));
  RsJob ja(make_spec(64, k, 2), settings(Role::kA, CombineAt::kRsA));
  RsJob jb(make_spec(64, k, 2), settings(Role::kB, CombineAt::kRsA));
  auto [x1, x2] = shares::split(x, prg);
  for (int p = 1; p <= 2; ++p) {
    auto [a, b] = shares::split(p == 1 ? x1 : x2, prg);
    send_part(ja, p, a, 6);
    send_part(jb, p, b, 6);
  }
  std::vector<i128> got;
  for (uint64_t c = 0; c < ja.result_chunks(); ++c) {
    auto mine = ja.encrypt_chunk(c, pool);
    auto theirs = jb.encrypt_chunk(c, pool);
    const std::string payload = RsJob::encode_result(theirs);
    auto combined = ja.combine_chunk(c, mine, jb.result_info(c), payload);
    for (auto v : decrypt_all(combined)) got.push_back(v);
    if (c == 0) {
      CHECK_THROWS_WITH_AS(ja.combine_chunk(c, mine, jb.result_info(1), payload),
                           doctest::Contains("arrived where chunk 0 was expected"),
                           std::invalid_argument);
      ChunkInfo other_key = jb.result_info(c);
      other_key.key = std::string(64, 'f');
      CHECK_THROWS_WITH_AS(ja.combine_chunk(c, mine, other_key, payload),
                           doctest::Contains("another public key"), std::invalid_argument);
      std::vector<he::Ciphertext> shorter(theirs.begin(), theirs.end() - 1);
      CHECK_THROWS_WITH_AS(
          ja.combine_chunk(c, mine, jb.result_info(c), RsJob::encode_result(shorter)),
          doctest::Contains("ciphertexts, expected"), std::invalid_argument);
    }
  }
  CHECK(got == std::vector<i128>{-3, -2, -1, 0, 1, 2});
}

TEST_CASE("rs job rejects bad shares with messages naming the party") {
  shares::ShareVector v(64, 8);
  auto job = [] { return std::make_unique<RsJob>(make_spec(64, 8, 3), settings()); };
  auto rejects = [](RsJob& j, int party, const ChunkInfo& info, const std::string& bytes,
                    const char* msg) {
    CHECK_THROWS_WITH_AS(j.add_share(party, info, bytes), doctest::Contains(msg),
                         std::invalid_argument);
  };
  const std::string four = bytes_of(v, 0, 4);
  {
    auto j = job();
    rejects(*j, 4, share_info(0, 2, 8, 0, 64), four,
            "party 4 is not a party of this job (parties 1..3)");
    rejects(*j, 2, share_info(0, 2, 9, 0, 64), four,
            "party 2 sends a vector of 9 elements, the job has 8");
    rejects(*j, 2, share_info(0, 2, 8, 0, 128), four, "Z_2^128");
    rejects(*j, 2, share_info(0, 2, 8, 0, 64), four.substr(0, 13), "not a whole number of 8-byte");
    rejects(*j, 2, share_info(1, 2, 8, 6, 64), four, "runs past the 8 elements");
  }
  {
    auto j = job();
    j->add_share(2, share_info(0, 2, 8, 0, 64), four);
    rejects(*j, 2, share_info(0, 2, 8, 4, 64), four, "party 2 sent chunk 0 twice");
    rejects(*j, 2, share_info(1, 3, 8, 4, 64), four, "announced 2 chunks, then 3");
    rejects(*j, 2, share_info(1, 2, 8, 2, 64), four, "overlaps");
    CHECK(j->missing() == "party 1 sent nothing, party 2 sent 1 of 2 chunks, party 3 sent nothing");
    j->add_share(2, share_info(1, 2, 8, 4, 64), four);
    CHECK(j->party_complete(2));
    CHECK(j->missing() == "party 1 sent nothing, party 3 sent nothing");
  }
  {
    auto j = job();
    j->add_share(1, share_info(0, 2, 8, 0, 64), bytes_of(v, 0, 2));
    rejects(*j, 1, share_info(1, 2, 8, 4, 64), four, "sent all 2 chunks but only 6 of the 8");
  }
  {
    auto j = job();
    rejects(*j, 1, share_info(0, 2, 8, 0, 64), bytes_of(v, 0, 8),
            "sent all 8 elements in 1 chunks but announced 2");
  }
}

TEST_CASE("rs job rejects a bad spec: invalid key, fingerprint, combine_at, chunk size") {
  JobSpec s = make_spec(64, 8, 3);
  // An even modulus: n - 1 of the test key (n-only key encoding, as a platform may send).
  he::Bn even = he::bn_dup(test_key().public_key().n());
  BN_sub_word(even.get(), 1);
  {
    // Hand-made wire key with n only, so the modulus check is what fails.
    he::PublicKey derived = he::PublicKey::from_modulus(test_key().public_key().n(), kTestBits);
    std::string wire = he::encode_public_key(derived);
    const std::string n_le = he::bn_to_le(derived.n());
    const size_t at = wire.find(n_le);
    REQUIRE(at != std::string::npos);
    wire[at] = static_cast<char>(wire[at] ^ 1);  // n is odd: flipping bit 0 makes it even
    JobSpec bad = s;
    bad.public_key = wire;
    bad.fingerprint.clear();
    CHECK_THROWS_WITH_AS(RsJob(bad, settings()), doctest::Contains("public key: n is even"),
                         std::invalid_argument);
  }
  {
    JobSpec bad = s;
    bad.fingerprint = std::string(64, '0');
    CHECK_THROWS_WITH_AS(RsJob(bad, settings()), doctest::Contains("does not match the public key"),
                         std::invalid_argument);
  }
  {
    JobSpec bad = s;
    bad.combine_at = CombineAt::kRsA;
    CHECK_THROWS_WITH_AS(RsJob(bad, settings()), doctest::Contains("configured for combine_at rc"),
                         std::invalid_argument);
  }
  {
    RsSettings st = settings();
    st.max_message_bytes = 2000;
    CHECK_THROWS_WITH_AS(RsJob(s, st), doctest::Contains("use fewer chunk_elements"),
                         std::invalid_argument);
  }
  {
    RsSettings st = settings();
    st.min_key_bits = 2048;
    CHECK_THROWS_WITH_AS(RsJob(s, st), doctest::Contains("at least 2048 required"),
                         std::invalid_argument);
  }
}
