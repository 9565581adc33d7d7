// ptpctl evidence verify|match: the evidence logs of gateways, read from their directories
// (docs/evidence.md). Local files only; nothing goes over the admin port.
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tools/ptpctl/commands.h"
#include "trust/certificate.h"
#include "trust/evidence_chain.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;

std::optional<DigestAlgorithm> digest_option(const Options& o) {
  auto d = o.get("digest");
  if (!d) return std::nullopt;
  auto alg = parse_digest_algorithm(*d);
  if (!alg) throw UsageError("--digest: expected sha256 or sm3, got " + *d);
  return alg;
}

// --root FILE: the node's root certificate, whose key signed the checkpoint records.
std::optional<PublicKey> root_key(const Options& o) {
  auto file = o.get("root");
  if (!file) return std::nullopt;
  std::ifstream in(*file, std::ios::binary);
  if (!in) throw UsageError("--root: cannot read " + *file);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string error;
  auto cert = Certificate::from_pem(ss.str(), error);
  std::optional<PublicKey> key;
  if (cert) key = cert->public_key(error);
  if (!key) throw UsageError("--root " + *file + ": " + error);
  return key;
}

Json problem_json(const ChainResult& r) {
  Json j{{"ok", r.ok()},     {"records", r.records},
         {"files", r.files}, {"checkpoints", r.checkpoints},
         {"head", r.head},   {"digest", std::string(digest_algorithm_name(r.digest))}};
  if (!r.error.empty()) j["error"] = r.error;
  if (r.problem != ChainProblem::kNone) {
    j["problem"] = std::string(chain_problem_name(r.problem));
    j["file"] = r.file;
    j["line"] = r.line;
    j["seq"] = r.seq;
    j["message"] = r.message;
  }
  return j;
}

// Prints why a log does not verify (or cannot be read); the exit status.
int print_bad(const std::string& dir, const ChainResult& r, bool json) {
  if (json) {
    std::cout << problem_json(r).dump() << "\n";
  } else if (!r.error.empty()) {
    std::cerr << "ptpctl: " << r.error << "\n";
  } else {
    std::cout << chain_problem_name(r.problem) << ": " << r.message << "\n"
              << "  (" << dir << ": " << r.records << " records verified before it)\n";
  }
  return kExitFailed;
}

int verify(const Options& o) {
  if (o.words.size() != 3) throw UsageError("evidence verify needs one directory");
  if (auto k = o.unknown({"digest", "root"}))
    throw UsageError("evidence verify: unknown option --" + *k);
  const std::string& dir = o.words[2];
  const std::optional<PublicKey> key = root_key(o);
  ChainResult r = verify_evidence_dir(
      dir, {.digest = digest_option(o), .checkpoint_key = key ? &*key : nullptr});
  if (!r.ok()) return print_bad(dir, r, o.json);
  if (o.json) {
    std::cout << problem_json(r).dump() << "\n";
    return kExitOk;
  }
  std::cout << "ok: " << r.records << " records, head " << (r.head.empty() ? "-" : r.head) << "\n";
  if (key) std::cout << r.checkpoints << " checkpoints signed by the root's key\n";
  return kExitOk;
}

// The node a message record is addressed to (the leaf's target node field).
std::string target_of(const EvidenceRecord& rec) {
  for (const char* key : {"target_node", "target"}) {
    auto it = rec.fields.find(key);
    if (it != rec.fields.end()) return it->second;
  }
  return "";
}

std::string msg_of(const EvidenceRecord& rec) {
  auto it = rec.fields.find("msg");
  return it == rec.fields.end() ? "" : it->second;
}

int match(const Options& o) {
  if (o.words.size() != 4)
    throw UsageError("evidence match needs the sender's and the receiver's directory");
  if (auto k = o.unknown({"digest", "receiver"}))
    throw UsageError("evidence match: unknown option --" + *k);
  const std::string& sender_dir = o.words[2];
  const std::string& receiver_dir = o.words[3];
  const ChainOptions opts{.digest = digest_option(o), .keep_records = true};
  ChainResult s = verify_evidence_dir(sender_dir, opts);
  if (!s.ok()) return print_bad(sender_dir, s, o.json);
  ChainResult r = verify_evidence_dir(receiver_dir, opts);
  if (!r.ok()) return print_bad(receiver_dir, r, o.json);
  // The receiver's node: --receiver, else the target its received records name most.
  std::string receiver = o.get("receiver").value_or("");
  if (receiver.empty()) {
    std::map<std::string, uint64_t> targets;
    for (const auto& rec : r.records_list)
      if (rec.kind == "received") ++targets[target_of(rec)];
    uint64_t best = 0;
    for (const auto& [node, n] : targets)
      if (n > best && !node.empty()) best = n, receiver = node;
  }
  std::set<std::string> received, receipts;
  for (const auto& rec : r.records_list)
    if (rec.kind == "received") received.insert(msg_of(rec));
  // A receipt is a record of its own (pushes) or part of the sent record written when the
  // answer came back (invokes and transports).
  for (const auto& rec : s.records_list) {
    const bool answered = rec.kind == "sent" && rec.fields.contains("receipt");
    if (rec.kind == "receipt" || answered) receipts.insert(msg_of(rec));
  }
  uint64_t sent = 0, matched_received = 0, matched_receipts = 0, unmatched = 0;
  const EvidenceRecord* first = nullptr;
  std::string first_why;
  for (const auto& rec : s.records_list) {
    if (rec.kind != "sent" || (!receiver.empty() && target_of(rec) != receiver)) continue;
    ++sent;
    const std::string m = msg_of(rec);
    const bool got = !m.empty() && received.count(m);
    const bool receipt = !m.empty() && receipts.count(m);
    matched_received += got;
    matched_receipts += receipt;
    if (got && receipt) continue;
    ++unmatched;
    if (!first) {
      first = &rec;
      first_why = !got && !receipt ? "no received record at the receiver and no receipt"
                  : !got           ? "no received record at the receiver"
                                   : "no receipt in the sender's log";
    }
  }
  const std::string to = receiver.empty() ? "any node" : receiver;
  if (o.json) {
    Json j{
        {"ok", unmatched == 0},         {"receiver", receiver},         {"sent", sent},
        {"received", matched_received}, {"receipts", matched_receipts}, {"unmatched", unmatched}};
    if (first)
      j["first_unmatched"] = {{"seq", first->seq}, {"msg", msg_of(*first)}, {"why", first_why}};
    std::cout << j.dump() << "\n";
  } else if (unmatched == 0) {
    std::cout << "ok: " << sent << " sent to " << to << ", " << matched_received
              << " received there, " << matched_receipts << " receipts\n";
  } else {
    std::cout << "unmatched: " << unmatched << " of " << sent << " sent to " << to << " (received "
              << matched_received << ", receipts " << matched_receipts << "); first: seq "
              << first->seq << " msg " << msg_of(*first) << ": " << first_why << "\n";
  }
  return unmatched == 0 ? kExitOk : kExitFailed;
}

}  // namespace

int run_evidence(const Options& o) {
  if (o.words.size() < 2) throw UsageError("evidence needs a subcommand: verify|match");
  const std::string& sub = o.words[1];
  if (sub == "verify") return verify(o);
  if (sub == "match") return match(o);
  throw UsageError("unknown evidence subcommand " + sub + " (verify|match)");
}

}  // namespace ptp::ptpctl
