// ptpctl evidence export | check-proof (docs/evidence.md, "Proofs"): one message's proof out
// of an evidence log, and its offline check against the nodes' root certificates.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/ptpctl/commands.h"
#include "trust/batch_statement.h"
#include "trust/certificate.h"
#include "trust/evidence_chain.h"
#include "trust/message_proof.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kMessageFieldNames[] = {
    "version", "interface", "source", "source_inst", "target", "target_inst", "session",
    "trace",   "uri",       "topic",  "size",        "body",   "sent_ms"};

std::string field(const EvidenceRecord& r, const std::string& key) {
  auto it = r.fields.find(key);
  return it == r.fields.end() ? std::string() : it->second;
}

Json record_json(const EvidenceRecord& r) {
  Json j{{"seq", r.seq}, {"time_ms", r.time_ms}, {"kind", r.kind}};
  for (const auto& [k, v] : r.fields) j[k] = v;
  j["prev"] = r.prev;
  j["hash"] = r.hash;
  return j;
}

int fail(const std::string& what) {
  std::cerr << "ptpctl: " << what << "\n";
  return kExitFailed;
}

// A v3 value (a reference into its batch's statement) made whole: the statement record of
// its batch in the same log gives the path and signature, so that the proof verifies on its
// own (the statement record joins the proof's records). Other values stay as they are.
bool expand_reference(const ChainResult& chain, std::string& value, Json& records,
                      std::string& error) {
  if (!value.starts_with("v3;")) return true;
  BatchProof ref;
  SignatureValue sv;
  ReceiptValue rv;
  if (parse_signature_value(value, sv, error))
    ref = sv.proof;
  else if (parse_receipt_value(value, rv, error))
    ref = rv.proof;
  else
    return false;
  for (const auto& r : chain.records_list) {
    if (r.kind != "statement") continue;
    const std::string text = field(r, "statement");
    std::string_view node, batch;
    if (!statement_id(text, node, batch) || node != ref.node || batch != ref.batch_id) continue;
    BatchStatement s;
    if (!parse_statement_value(text, s, error)) return false;
    Hasher h(chain.digest);
    std::string whole;
    if (!expand_reference_value(h, value, s, whole, error)) return false;
    value = std::move(whole);
    records.push_back(record_json(r));
    return true;
  }
  error = "no statement record of batch " + ref.node + ";" + ref.batch_id + " in the log";
  return false;
}

int export_proof(const Options& o) {
  if (o.words.size() != 3) throw UsageError("evidence export needs one directory");
  if (auto k = o.unknown({"msg", "out"}))
    throw UsageError("evidence export: unknown option --" + *k);
  const auto msg = o.get("msg");
  if (!msg || !digest_from_hex(*msg)) throw UsageError("evidence export needs --msg <64 hex>");
  const std::string& dir = o.words[2];
  ChainResult chain = verify_evidence_dir(dir, {.digest = std::nullopt, .keep_records = true});
  if (!chain.ok())
    return fail(dir + " does not verify: " + (chain.error.empty() ? chain.message : chain.error));
  // The sender's sent record (with the receipt, or followed by a receipt record), or the
  // receiver's received record.
  const EvidenceRecord *message = nullptr, *receipt = nullptr;
  for (const auto& r : chain.records_list) {
    if (field(r, "msg") != *msg) continue;
    if ((r.kind == "sent" || r.kind == "received") && !message) message = &r;
    if (r.kind == "receipt") receipt = &r;
  }
  if (!message) return fail("no sent or received record of message " + *msg + " in " + dir);
  Json proof{{"v", 1}, {"digest", std::string(digest_algorithm_name(chain.digest))}};
  Json fields = Json::object();
  for (const char* name : kMessageFieldNames) fields[name] = field(*message, name);
  // A gRPC stream's messages signed (ptp-msg-v2); absent for every other message.
  if (const std::string framing = field(*message, "framing"); !framing.empty())
    fields["framing"] = framing;
  proof["message"] = fields;
  proof["msg"] = *msg;
  const EvidenceRecord& with_receipt = receipt ? *receipt : *message;
  Json records = Json::array({record_json(*message)});
  if (receipt) records.push_back(record_json(*receipt));
  std::string signature = field(*message, "sig"), receipt_value = field(with_receipt, "receipt");
  std::string error;
  if (!expand_reference(chain, signature, records, error))
    return fail("the signature of message " + *msg + ": " + error);
  if (!expand_reference(chain, receipt_value, records, error))
    return fail("the receipt of message " + *msg + ": " + error);
  proof["signature"] = signature;
  proof["receipt"] = receipt_value;
  proof["countersign"] = field(with_receipt, "countersign");
  proof["records"] = records;
  const std::string text = proof.dump(2) + "\n";
  if (auto out = o.get("out")) {
    std::ofstream f(*out, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.flush()) return fail("cannot write " + *out);
  } else {
    std::cout << text;
  }
  return kExitOk;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int check_proof(const Options& o) {
  if (o.words.size() != 3) throw UsageError("evidence check-proof needs one proof file");
  if (auto k = o.unknown({"root"}))
    throw UsageError("evidence check-proof: unknown option --" + *k);
  std::vector<Certificate> roots;
  for (const auto& path : o.all("root")) {
    std::string error;
    auto c = Certificate::from_pem(read_file(path), error);
    if (!c) return fail(path + ": " + error);
    roots.push_back(std::move(*c));
  }
  if (roots.empty()) throw UsageError("evidence check-proof needs --root FILE (one per node)");
  MessageProof p;
  try {
    const Json j = Json::parse(read_file(o.words[2]));
    auto d = parse_digest_algorithm(j.at("digest").get<std::string>());
    if (!d) throw std::runtime_error("unknown digest");
    p.digest = *d;
    for (const auto& [k, v] : j.at("message").items())
      p.message.emplace_back(k, v.get<std::string>());
    p.msg = j.at("msg").get<std::string>();
    p.signature = j.at("signature").get<std::string>();
    p.receipt = j.value("receipt", "");
    p.countersign = j.value("countersign", "");
  } catch (const std::exception& e) {
    return fail(o.words[2] + " is not a proof: " + e.what());
  }
  const ProofCheck c = check_message_proof(p, roots);
  if (o.json) {
    Json j{{"ok", c.ok()}};
    if (!c.ok()) {
      j["failed"] = c.failed;
      j["error"] = c.error;
    } else {
      j.update(Json{{"msg", p.msg},
                    {"source", c.source},
                    {"target", c.target},
                    {"sent_ms", c.sent_ms},
                    {"status", c.status},
                    {"received_ms", c.received_ms},
                    {"router", c.router},
                    {"countersigned_ms", c.countersigned_ms}});
    }
    std::cout << j.dump() << "\n";
    return c.ok() ? kExitOk : kExitFailed;
  }
  if (!c.ok()) return fail("proof fails: " + c.failed + ": " + c.error);
  std::cout << "ok: message " << p.msg << " signed by " << c.source << " (sent_ms " << c.sent_ms
            << ")";
  if (!c.status.empty())
    std::cout << "; received by " << c.target << " (received_ms " << c.received_ms << ", status "
              << c.status << ")";
  else
    std::cout << "; no receipt";
  if (!c.router.empty())
    std::cout << "; countersigned by " << c.router << " (time_ms " << c.countersigned_ms << ")";
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

int run_evidence_proof(const Options& o) {
  const std::string& sub = o.words.at(1);
  if (sub == "export") return export_proof(o);
  if (sub == "check-proof") return check_proof(o);
  throw UsageError("unknown evidence command " + sub);
}

}  // namespace ptp::ptpctl
