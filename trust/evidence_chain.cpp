#include "trust/evidence_chain.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "codecs/json_depth.h"

namespace ptp {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "evidence-";
constexpr std::string_view kSuffix = ".jsonl";
constexpr std::string_view kSeqStart = "{\"seq\":";
constexpr std::string_view kHashKey = ",\"hash\":\"";

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The seq at the start of a line, without parsing the rest (the look-ahead of reordered).
std::optional<uint64_t> quick_seq(std::string_view line) {
  if (line.substr(0, kSeqStart.size()) != kSeqStart) return std::nullopt;
  uint64_t v = 0;
  const char* b = line.data() + kSeqStart.size();
  auto [end, ec] = std::from_chars(b, line.data() + line.size(), v);
  if (ec != std::errc() || end == b) return std::nullopt;
  return v;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = std::move(ss).str();
  return !in.bad();
}

// One line of a file: its text (without '\n'), its 1-based number, whether it ended in '\n'.
struct LineCursor {
  std::string_view text;
  size_t pos = 0;
  uint64_t number = 0;
  bool next(std::string_view& line, bool& complete) {
    if (pos >= text.size()) return false;
    const size_t nl = text.find('\n', pos);
    complete = nl != std::string_view::npos;
    const size_t end = complete ? nl : text.size();
    line = text.substr(pos, end - pos);
    pos = complete ? nl + 1 : text.size();
    ++number;
    return true;
  }
};

bool hash_matches(Hasher& h, std::string_view hashed, const Digest32& want) {
  h.update(hashed);
  return h.finish() == want;
}

}  // namespace

std::string evidence_file_name(uint64_t first_seq) {
  std::string digits = std::to_string(first_seq);
  return std::string(kPrefix) + std::string(20 - std::min<size_t>(20, digits.size()), '0') +
         digits + std::string(kSuffix);
}

std::optional<uint64_t> evidence_file_seq(std::string_view name) {
  if (name.size() != kPrefix.size() + 20 + kSuffix.size()) return std::nullopt;
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  std::string_view digits = name.substr(kPrefix.size(), 20);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

bool list_evidence_files(const std::string& dir,
                         std::vector<std::pair<uint64_t, std::string>>& files, std::string& error) {
  files.clear();
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    error = "cannot read the directory " + dir + ": " + ec.message();
    return false;
  }
  for (const auto& e : it) {
    auto seq = evidence_file_seq(e.path().filename().string());
    if (seq && e.is_regular_file(ec)) files.emplace_back(*seq, e.path().string());
  }
  std::sort(files.begin(), files.end());
  return true;
}

const std::string& evidence_zero_hash() {
  static const std::string zeros(64, '0');
  return zeros;
}

bool parse_evidence_line(std::string_view line, EvidenceRecord& out, std::string_view& hashed,
                         std::string& error) {
  if (line.substr(0, kSeqStart.size()) != kSeqStart) {
    error = "a record starts with {\"seq\":";
    return false;
  }
  const size_t at = line.rfind(kHashKey);
  if (at == std::string_view::npos || line.size() < 2 || line.substr(line.size() - 2) != "\"}") {
    error = "a record ends with ,\"hash\":\"<hex>\"}";
    return false;
  }
  hashed = line.substr(0, at);
  const std::string_view hash_text =
      line.substr(at + kHashKey.size(), line.size() - 2 - at - kHashKey.size());
  if (!is_hex64(hash_text)) {
    error = "hash is not 64 lower-case hex digits";
    return false;
  }
  if (!json_depth_within(line, 1)) {
    error = "a record is one flat JSON object";
    return false;
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) {
    error = "not a JSON object";
    return false;
  }
  EvidenceRecord r;
  for (auto& [key, value] : j.items()) {
    if (key == "seq") {
      if (!value.is_number_unsigned()) {
        error = "seq is not a number";
        return false;
      }
      r.seq = value.get<uint64_t>();
    } else if (key == "time_ms") {
      if (!value.is_number_integer()) {
        error = "time_ms is not a number";
        return false;
      }
      r.time_ms = value.get<int64_t>();
    } else if (!value.is_string()) {
      error = "field " + key + " is not a string";
      return false;
    } else if (key == "kind") {
      r.kind = value.get<std::string>();
    } else if (key == "prev") {
      r.prev = value.get<std::string>();
    } else if (key == "hash") {
      r.hash = value.get<std::string>();
    } else {
      r.fields.emplace(key, value.get<std::string>());
    }
  }
  if (r.kind.empty() || !j.contains("time_ms")) {
    error = "kind or time_ms is missing";
    return false;
  }
  if (!is_hex64(r.prev)) {
    error = "prev is not 64 lower-case hex digits";
    return false;
  }
  if (r.hash != hash_text) {
    error = "hash is not the last field";
    return false;
  }
  out = std::move(r);
  return true;
}

std::string_view chain_problem_name(ChainProblem p) {
  switch (p) {
    case ChainProblem::kNone:
      return "ok";
    case ChainProblem::kAltered:
      return "altered";
    case ChainProblem::kMissing:
      return "missing";
    case ChainProblem::kReordered:
      return "reordered";
    case ChainProblem::kMalformed:
      return "malformed";
  }
  return "unknown";
}

ChainResult verify_evidence_dir(const std::string& dir, const ChainOptions& options) {
  ChainResult r;
  std::vector<std::pair<uint64_t, std::string>> files;
  if (!list_evidence_files(dir, files, r.error)) return r;
  r.files = files.size();
  std::optional<Hasher> hasher;
  if (options.digest) {
    hasher.emplace(*options.digest);
    r.digest = *options.digest;
  }
  uint64_t expected = 1;
  std::string prev = evidence_zero_hash();
  // A seq out of place: whether the expected one comes later decides missing or reordered.
  bool looking_ahead = false;
  std::string text;
  auto report = [&](ChainProblem p, const std::string& file, uint64_t line, std::string msg) {
    r.problem = p;
    r.file = file;
    r.line = line;
    r.seq = expected;
    r.message = file + " line " + std::to_string(line) + ": " + std::move(msg);
  };
  uint64_t found_seq = 0;
  for (const auto& [first_seq, path] : files) {
    if (!read_file(path, text)) {
      r.error = "cannot read " + path;
      return r;
    }
    LineCursor cur{text};
    std::string_view line;
    bool complete = false;
    if (!looking_ahead && first_seq != expected) {
      // The file name says its first record's seq; when it does, a gap (a deleted file) is
      // reported by the record check below.
      std::optional<uint64_t> s = quick_seq(cur.text.substr(0, cur.text.find('\n')));
      if (!s || *s != first_seq) {
        report(ChainProblem::kMalformed, path, 1,
               "the file name says seq " + std::to_string(first_seq) + " but " +
                   (s ? "its first record is seq " + std::to_string(*s)
                      : std::string("it starts with no record")) +
                   " (expected seq " + std::to_string(expected) + ")");
        return r;
      }
    }
    while (cur.next(line, complete)) {
      if (looking_ahead) {
        if (quick_seq(line) == expected) {
          r.problem = ChainProblem::kReordered;
          r.message = r.file + " line " + std::to_string(r.line) + ": records reordered: seq " +
                      std::to_string(expected) + " expected, found seq " +
                      std::to_string(found_seq) + " (seq " + std::to_string(expected) + " is at " +
                      path + " line " + std::to_string(cur.number) + ")";
          return r;
        }
        continue;
      }
      EvidenceRecord rec;
      std::string_view hashed;
      std::string why;
      if (!complete) {
        report(
            ChainProblem::kMalformed, path, cur.number,
            "incomplete last line (a write cut short), expected seq " + std::to_string(expected));
        return r;
      }
      if (!parse_evidence_line(line, rec, hashed, why)) {
        report(ChainProblem::kMalformed, path, cur.number,
               "malformed record (expected seq " + std::to_string(expected) + "): " + why);
        return r;
      }
      const Digest32 want = *digest_from_hex(rec.hash);
      if (!hasher) {
        // The chain's digest: the one the first record's hash matches.
        for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kSm3}) {
          Hasher h(a);
          if (hash_matches(h, hashed, want)) {
            hasher.emplace(a);
            r.digest = a;
            break;
          }
        }
        if (!hasher) hasher.emplace(DigestAlgorithm::kSha256);
      }
      if (!hash_matches(*hasher, hashed, want)) {
        report(ChainProblem::kAltered, path, cur.number,
               "record seq " + std::to_string(rec.seq) +
                   " altered: its hash does not match its content");
        r.seq = rec.seq == expected ? rec.seq : expected;
        return r;
      }
      if (rec.seq != expected) {
        found_seq = rec.seq;
        report(ChainProblem::kMissing, path, cur.number,
               "record seq " + std::to_string(expected) + " missing (found seq " +
                   std::to_string(rec.seq) + ")");
        looking_ahead = true;
        continue;
      }
      if (rec.prev != prev) {
        report(ChainProblem::kAltered, path, cur.number,
               "record seq " + std::to_string(rec.seq) + " altered: its prev does not match " +
                   (expected == 1 ? std::string("the start of the log")
                                  : "the hash of seq " + std::to_string(expected - 1)));
        return r;
      }
      prev = rec.hash;
      r.head = rec.hash;
      ++r.records;
      ++expected;
      if (options.keep_records) r.records_list.push_back(std::move(rec));
    }
  }
  return r;
}

}  // namespace ptp
