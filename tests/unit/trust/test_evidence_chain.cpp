#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../scratch_dir.h"
#include "trust/evidence_chain.h"

using namespace ptp;
using ptp::testing::read_all;
using ptp::testing::ScratchDir;
using ptp::testing::write_all;

namespace {

// Lines of a chain written the way the gateway's writer writes them.
struct ChainBuilder {
  DigestAlgorithm alg = DigestAlgorithm::kSha256;
  uint64_t seq = 1;
  std::string prev = evidence_zero_hash();
  std::string line(const std::string& kind, const std::string& fields) {
    std::string l = "{\"seq\":" + std::to_string(seq) + ",\"time_ms\":1764900000" +
                    std::to_string(seq % 10) + ",\"kind\":\"" + kind + "\"" + fields +
                    ",\"prev\":\"" + prev + "\"";
    prev = digest_hex(digest(alg, l));
    ++seq;
    return l + ",\"hash\":\"" + prev + "\"}\n";
  }
  // `n` audit records, one string.
  std::string lines(int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
      out += line("audit", ",\"event\":\"e" + std::to_string(seq) + "\",\"who\":\"x\"");
    return out;
  }
};

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl + 1 - pos));
    pos = nl + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& l : v) out += l;
  return out;
}

}  // namespace

TEST_CASE("evidence chain: file names") {
  CHECK(evidence_file_name(42) == "evidence-00000000000000000042.jsonl");
  CHECK(evidence_file_seq("evidence-00000000000000000042.jsonl") == 42u);
  CHECK_FALSE(evidence_file_seq("evidence-42.jsonl"));
  CHECK_FALSE(evidence_file_seq("evidence-0000000000000000004x.jsonl"));
  CHECK_FALSE(evidence_file_seq("other-00000000000000000042.jsonl"));
}

TEST_CASE("evidence chain: a good chain over two files verifies, records parsed") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  write_all(d.path / evidence_file_name(1), b.lines(5));
  write_all(d.path / evidence_file_name(6), b.lines(3));
  write_all(d.path / "unrelated.txt", "not evidence");
  ChainResult r = verify_evidence_dir(d.str(), {.digest = std::nullopt, .keep_records = true});
  INFO(r.message, r.error);
  CHECK(r.ok());
  CHECK(r.records == 8);
  CHECK(r.files == 2);
  CHECK(r.head == b.prev);
  CHECK(r.digest == DigestAlgorithm::kSha256);
  REQUIRE(r.records_list.size() == 8);
  CHECK(r.records_list[6].seq == 7);
  CHECK(r.records_list[6].kind == "audit");
  CHECK(r.records_list[6].fields.at("event") == "e7");
  CHECK(r.records_list[6].fields.count("prev") == 0);
}

TEST_CASE("evidence chain: SM3 chains are recognized") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  b.alg = DigestAlgorithm::kSm3;
  write_all(d.path / evidence_file_name(1), b.lines(4));
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.ok());
  CHECK(r.digest == DigestAlgorithm::kSm3);
  // Told SHA-256, the first record does not match.
  r = verify_evidence_dir(d.str(), {.digest = DigestAlgorithm::kSha256});
  CHECK(r.problem == ChainProblem::kAltered);
  CHECK(r.seq == 1);
}

TEST_CASE("evidence chain: a flipped byte is reported as altered at its record") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  auto lines = split_lines(b.lines(10));
  const size_t at = lines[6].find("\"who\":\"x\"") + 7;
  lines[6][at] = 'y';  // seq 7's value
  write_all(d.path / evidence_file_name(1), join(lines));
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kAltered);
  CHECK(r.seq == 7);
  CHECK(r.line == 7);
  CHECK(r.records == 6);
  CHECK(r.message.find("seq 7 altered") != std::string::npos);
}

TEST_CASE("evidence chain: a record rewritten with a fresh hash breaks the next prev") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  auto lines = split_lines(b.lines(3));
  ChainBuilder forged;  // seq 2 rewritten consistently, seq 3 left as it was
  forged.line("audit", ",\"event\":\"e1\",\"who\":\"x\"");
  lines[1] = forged.line("audit", ",\"event\":\"forged\",\"who\":\"x\"");
  write_all(d.path / evidence_file_name(1), join(lines));
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kAltered);
  CHECK(r.seq == 3);
  CHECK(r.message.find("prev") != std::string::npos);
}

TEST_CASE("evidence chain: a deleted record is missing, at its seq") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  auto lines = split_lines(b.lines(10));
  lines.erase(lines.begin() + 4);  // seq 5
  write_all(d.path / evidence_file_name(1), join(lines));
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kMissing);
  CHECK(r.seq == 5);
  CHECK(r.line == 5);
  CHECK(r.message.find("seq 5 missing (found seq 6)") != std::string::npos);
}

TEST_CASE("evidence chain: two swapped records are reordered, at the first") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  auto lines = split_lines(b.lines(10));
  std::swap(lines[3], lines[7]);  // seq 4 and seq 8
  write_all(d.path / evidence_file_name(1), join(lines));
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kReordered);
  CHECK(r.seq == 4);
  CHECK(r.line == 4);
  CHECK(r.message.find("seq 4 is at") != std::string::npos);
}

TEST_CASE("evidence chain: a deleted file is missing; a renamed one is malformed") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  write_all(d.path / evidence_file_name(1), b.lines(3));
  const std::string second = b.lines(3);
  write_all(d.path / evidence_file_name(7), b.lines(3));
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kMissing);
  CHECK(r.seq == 4);
  CHECK(r.file == (d.path / evidence_file_name(7)).string());

  write_all(d.path / evidence_file_name(5), second);  // seq 4..6 under the name of seq 5
  r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kMalformed);
  CHECK(r.seq == 4);
}

TEST_CASE("evidence chain: malformed lines and a cut-off last line") {
  ScratchDir d("ptp-evchain");
  ChainBuilder b;
  std::string text = b.lines(3);
  write_all(d.path / evidence_file_name(1), text + "{\"seq\":4,\"time_ms\":1");
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kMalformed);
  CHECK(r.seq == 4);
  CHECK(r.records == 3);
  CHECK(r.message.find("incomplete") != std::string::npos);

  write_all(d.path / evidence_file_name(1), text + "garbage\n");
  r = verify_evidence_dir(d.str());
  CHECK(r.problem == ChainProblem::kMalformed);
  CHECK(r.line == 4);

  EvidenceRecord rec;
  std::string_view hashed;
  std::string why;
  const std::string h(64, 'a');
  CHECK_FALSE(parse_evidence_line("{\"seq\":1,\"time_ms\":1,\"kind\":\"a\",\"x\":[1],\"prev\":\"" +
                                      h + "\",\"hash\":\"" + h + "\"}",
                                  rec, hashed, why));
  CHECK_FALSE(parse_evidence_line(
      "{\"seq\":1,\"time_ms\":1,\"kind\":\"a\",\"prev\":\"x\",\"hash\":\"" + h + "\"}", rec, hashed,
      why));
  // `hashed` is a view into the line: the line must outlive it.
  const std::string line = "{\"seq\":1,\"time_ms\":1,\"kind\":\"a\",\"k\":\"v\",\"prev\":\"" + h +
                           "\",\"hash\":\"" + h + "\"}";
  CHECK(parse_evidence_line(line, rec, hashed, why));
  CHECK(rec.fields.at("k") == "v");
  CHECK(hashed.substr(hashed.size() - 6) == h.substr(0, 5) + "\"");
}

TEST_CASE("evidence chain: an empty or unreadable directory") {
  ScratchDir d("ptp-evchain");
  ChainResult r = verify_evidence_dir(d.str());
  CHECK(r.ok());
  CHECK(r.records == 0);
  r = verify_evidence_dir(d.str() + "/nope");
  CHECK_FALSE(r.ok());
  CHECK(r.error.find("nope") != std::string::npos);
}
