// Reading and verifying an evidence log (docs/evidence.md): the files
// <dir>/evidence-<seq of the first record, 20 digits>.jsonl, one record per line,
//   {"seq":<n>,"time_ms":<unix
//   ms>,"kind":"<kind>",<"key":"value"...>,"prev":"<hex>","hash":"<hex>"}
// hash = digest of the line's bytes before ,"hash":  prev = the previous record's hash (64
// '0' for the first record of the log, seq 1). No gateway dependencies: ptpctl uses it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trust/digest.h"

namespace ptp {

// "evidence-00000000000000000042.jsonl" for a file whose first record is seq 42.
std::string evidence_file_name(uint64_t first_seq);
// The first seq a file name says, or nullopt for a name that is not an evidence file's.
std::optional<uint64_t> evidence_file_seq(std::string_view name);
// The evidence files of `dir`, ordered by their first seq: (first seq, full path). False
// with `error` when the directory cannot be read.
bool list_evidence_files(const std::string& dir,
                         std::vector<std::pair<uint64_t, std::string>>& files, std::string& error);
// The prev of the log's first record: 64 '0'.
const std::string& evidence_zero_hash();

struct EvidenceRecord {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;
  std::map<std::string, std::string> fields;  // every other string field except prev, hash
  std::string prev;
  std::string hash;
};

// Parses one line (without its '\n'): the record, and `hashed` = the bytes its hash covers.
// False with `error` (what is wrong) for a malformed line. Does not check the hash.
bool parse_evidence_line(std::string_view line, EvidenceRecord& out, std::string_view& hashed,
                         std::string& error);

// What the verifier found wrong first.
enum class ChainProblem {
  kNone,
  kAltered,    // a record's hash does not match its bytes, or its prev does not link
  kMissing,    // a seq is missing (deleted records, a deleted file)
  kReordered,  // a record is out of order (its seq is found later)
  kMalformed,  // not a record (bad JSON, missing fields, a bad file name)
};
// "ok", "altered", "missing", "reordered", "malformed".
std::string_view chain_problem_name(ChainProblem p);

struct ChainOptions {
  // The chain's digest; nullopt: the one the first record matches (SHA-256 or SM3).
  std::optional<DigestAlgorithm> digest;
  bool keep_records = false;  // fill ChainResult::records
};

struct ChainResult {
  bool ok() const { return problem == ChainProblem::kNone && error.empty(); }
  std::string error;  // the directory or a file could not be read
  uint64_t records = 0;
  uint64_t files = 0;
  std::string head;  // the last record's hash (of the good prefix when a problem was found)
  DigestAlgorithm digest = DigestAlgorithm::kSha256;
  // The first problem: where (file path, 1-based line) and the seq expected there.
  ChainProblem problem = ChainProblem::kNone;
  std::string file;
  uint64_t line = 0;
  uint64_t seq = 0;
  std::string message;                       // a sentence naming file, line, seq and what is wrong
  std::vector<EvidenceRecord> records_list;  // with keep_records: every record read, in order
};

// Reads the files of `dir` in order and checks seq continuity (from 1), prev links and
// hashes; stops at the first problem.
ChainResult verify_evidence_dir(const std::string& dir, const ChainOptions& options = {});

}  // namespace ptp
