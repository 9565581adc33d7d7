#include "trust/message_evidence.h"

#include <algorithm>
#include <charconv>

#include "codecs/base64.h"
#include "trust/merkle.h"

namespace ptp {
namespace {

constexpr size_t kMaxPath = 16;  // a batch has at most kMaxBatchLeaves = 2^16 leaves
static_assert(kMaxBatchLeaves == 1u << kMaxPath);

std::string_view view(const Digest32& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits off the text up to the next ';' (or the rest).
std::string_view next_part(std::string_view& s) {
  const size_t pos = s.find(';');
  std::string_view part = s.substr(0, pos);
  s.remove_prefix(pos == std::string_view::npos ? s.size() : pos + 1);
  return part;
}

}  // namespace

bool is_evidence_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == ':' || c == '-'))
      return false;
  return true;
}

namespace {

bool is_hex64(std::string_view s) { return digest_from_hex(s).has_value(); }

// "v1;" then the value's own parts; `rest` is what follows "v1;".
bool strip_version(std::string_view& v, std::string& error) {
  if (!v.starts_with("v1;")) {
    error = "unknown format (expected v1;...)";
    return false;
  }
  v.remove_prefix(3);
  return true;
}

// The node, batch, count and index of a proof or reference (`what`, for errors).
bool parse_position(std::string_view node, std::string_view batch, std::string_view n,
                    std::string_view index, std::string_view what, BatchProof& out,
                    std::string& error) {
  if (!is_evidence_id(node) || !is_evidence_id(batch)) {
    error = std::string(what) + ": bad node or batch id";
    return false;
  }
  out.node = node;
  out.batch_id = batch;
  if (!parse_number(n, out.n) || !parse_number(index, out.index) || out.n == 0 ||
      out.n > kMaxBatchLeaves || out.index >= out.n) {
    error = std::string(what) + ": bad leaf count or index";
    return false;
  }
  return true;
}

}  // namespace

std::string_view next_evidence_part(std::string_view& s) { return next_part(s); }

std::string digests_base64url(const std::vector<Digest32>& digests) {
  std::string bytes;
  bytes.reserve(digests.size() * 32);
  for (const Digest32& d : digests) bytes.append(view(d));
  return base64url_encode(bytes);
}

std::optional<std::vector<Digest32>> digests_from_base64url(std::string_view text) {
  auto bytes = base64url_decode(text);
  if (!bytes || bytes->size() % 32 != 0) return std::nullopt;
  std::vector<Digest32> out(bytes->size() / 32);
  for (size_t i = 0; i < out.size(); ++i)
    std::copy_n(bytes->data() + 32 * i, 32, reinterpret_cast<char*>(out[i].data()));
  return out;
}

std::string grpc_framed_prefix(uint32_t size) {
  std::string p(5, '\0');
  for (int i = 0; i < 4; ++i) p[4 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  return p;
}

std::vector<std::pair<std::string, std::string>> MessageFields::to_fields() const {
  std::vector<std::pair<std::string, std::string>> f{{"version", version},
                                                     {"interface", iface},
                                                     {"source", source_node},
                                                     {"source_inst", source_inst},
                                                     {"target", target_node},
                                                     {"target_inst", target_inst},
                                                     {"session", session},
                                                     {"trace", trace},
                                                     {"uri", uri},
                                                     {"topic", topic},
                                                     {"size", std::to_string(body_size)},
                                                     {"body", body_digest},
                                                     {"sent_ms", std::to_string(sent_ms)}};
  if (!framing.empty()) f.emplace_back("framing", framing);
  return f;
}

bool MessageFields::from_fields(const std::vector<std::pair<std::string, std::string>>& fields,
                                MessageFields& out, std::string& error) {
  auto get = [&](std::string_view name) -> const std::string* {
    for (const auto& [k, v] : fields)
      if (k == name) return &v;
    return nullptr;
  };
  std::string* text[] = {&out.version,     &out.iface,       &out.source_node, &out.source_inst,
                         &out.target_node, &out.target_inst, &out.session,     &out.trace,
                         &out.uri,         &out.topic,       &out.body_digest};
  const char* names[] = {"version", "interface", "source", "source_inst", "target", "target_inst",
                         "session", "trace",     "uri",    "topic",       "body"};
  for (size_t i = 0; i < std::size(names); ++i) {
    const std::string* v = get(names[i]);
    if (!v) {
      error = std::string("field ") + names[i] + " is missing";
      return false;
    }
    *text[i] = *v;
  }
  const std::string* size = get("size");
  if (!size || !parse_number(*size, out.body_size)) {
    error = "field size is missing or not a number";
    return false;
  }
  const std::string* sent = get("sent_ms");
  if (!sent || !parse_number(*sent, out.sent_ms)) {
    error = "field sent_ms is missing or not a number";
    return false;
  }
  const std::string* framing = get("framing");
  out.framing = framing ? *framing : std::string();
  if (!out.framing.empty() && out.framing != kGrpcFraming) {
    error = "field framing is not \"grpc\"";
    return false;
  }
  return true;
}

std::string message_text(const MessageFields& m) {
  std::string t;
  t.reserve(160 + m.uri.size() + m.topic.size() + m.session.size());
  if (m.framing.empty())
    t.append("ptp-msg-v1\n");
  else
    t.append("ptp-msg-v2\n").append(m.framing).push_back('\n');
  for (const std::string* s : {&m.version, &m.iface, &m.source_node, &m.source_inst, &m.target_node,
                               &m.target_inst, &m.session, &m.trace, &m.uri, &m.topic})
    t.append(*s).push_back('\n');
  t.append(std::to_string(m.body_size)).push_back('\n');
  t.append(m.body_digest).push_back('\n');
  t.append(std::to_string(m.sent_ms));
  return t;
}

Digest32 message_leaf(Hasher& h, const MessageFields& m) {
  h.update(message_text(m));
  return h.finish();
}

std::string receipt_text(std::string_view msg_hex, std::string_view node, int64_t received_ms,
                         std::string_view code) {
  std::string t("ptp-receipt-v1\n");
  t.append(msg_hex).append("\n").append(node).append("\n");
  t.append(std::to_string(received_ms)).append("\n").append(code);
  return t;
}

std::string countersign_text(std::string_view receipt_hex, std::string_view node, int64_t time_ms) {
  std::string t("ptp-countersign-v1\n");
  t.append(receipt_hex).append("\n").append(node).append("\n").append(std::to_string(time_ms));
  return t;
}

std::string batch_text(std::string_view node, std::string_view batch_id, uint32_t n,
                       const Digest32& root) {
  std::string t("ptp-batch-v1\n");
  t.append(node).append("\n").append(batch_id).append("\n").append(std::to_string(n));
  t.append("\n").append(digest_hex(root));
  return t;
}

void append_batch_proof(std::string& out, std::string_view node, std::string_view batch_id,
                        uint32_t n, uint32_t index, const std::vector<Digest32>& path,
                        std::string_view signature_b64) {
  out.append(node).push_back(';');
  out.append(batch_id).push_back(';');
  out.append(std::to_string(n)).push_back(';');
  out.append(std::to_string(index)).push_back(';');
  out.append(digests_base64url(path)).push_back(';');
  out.append(signature_b64);
}

bool parse_batch_proof(std::string_view s, BatchProof& out, std::string& error) {
  const std::string_view node = next_part(s), batch = next_part(s), n = next_part(s),
                         index = next_part(s), path = next_part(s), sig = next_part(s);
  if (!s.empty() || sig.empty()) {
    error = "proof: expected node;batch;n;index;path;signature";
    return false;
  }
  if (!parse_position(node, batch, n, index, "proof", out, error)) return false;
  auto path_digests = digests_from_base64url(path);
  if (!path_digests || path_digests->size() > kMaxPath) {
    error = "proof: bad inclusion path";
    return false;
  }
  out.path = std::move(*path_digests);
  auto sig_bytes = base64url_decode(sig);
  if (!sig_bytes || sig_bytes->empty()) {
    error = "proof: bad signature encoding";
    return false;
  }
  out.signature = std::move(*sig_bytes);
  return true;
}

void append_batch_reference(std::string& out, std::string_view node, std::string_view batch_id,
                            uint32_t n, uint32_t index) {
  out.append(node).push_back(';');
  out.append(batch_id).push_back(';');
  out.append(std::to_string(n)).push_back(';');
  out.append(std::to_string(index));
}

bool parse_batch_reference(std::string_view s, BatchProof& out, std::string& error) {
  const std::string_view node = next_part(s), batch = next_part(s), n = next_part(s),
                         index = next_part(s);
  if (!s.empty() || index.empty()) {
    error = "reference: expected node;batch;n;index";
    return false;
  }
  if (!parse_position(node, batch, n, index, "reference", out, error)) return false;
  out.path.clear();
  out.signature.clear();
  out.reference = true;
  return true;
}

std::optional<Digest32> proof_root(Hasher& h, const Digest32& leaf, const BatchProof& p,
                                   std::string& error) {
  auto root = merkle_root_from_path(h, merkle_leaf_hash(h, leaf), p.index, p.n, p.path);
  if (!root) error = "inclusion path does not fit its batch";
  return root;
}

bool verify_statement(Hasher& h, const Digest32& leaf, const BatchProof& p, const PublicKey& key,
                      std::string& error) {
  auto root = proof_root(h, leaf, p, error);
  if (!root) return false;
  if (!key.verify(batch_text(p.node, p.batch_id, p.n, *root), p.signature)) {
    error = "batch signature of " + p.node + " does not verify (statement or batch altered)";
    return false;
  }
  return true;
}

bool parse_signature_value(std::string_view v, SignatureValue& out, std::string& error) {
  out.version = v.starts_with("v2;") ? 2 : v.starts_with("v3;") ? 3 : 1;
  if (out.version != 1)
    v.remove_prefix(3);
  else if (!strip_version(v, error))
    return false;
  if (!parse_number(next_part(v), out.sent_ms)) {
    error = "bad sent time";
    return false;
  }
  return out.version == 3 ? parse_batch_reference(v, out.proof, error)
                          : parse_batch_proof(v, out.proof, error);
}

bool parse_receipt_value(std::string_view v, ReceiptValue& out, std::string& error) {
  out.version = v.starts_with("v3;") ? 3 : 1;
  if (out.version == 3)
    v.remove_prefix(3);
  else if (!strip_version(v, error))
    return false;
  const std::string_view msg = next_part(v), at = next_part(v), code = next_part(v);
  if (!is_hex64(msg) || !parse_number(at, out.received_ms) || code.empty() || code.size() > 16) {
    error = "bad receipt fields (msg;received_ms;code)";
    return false;
  }
  out.msg = msg;
  out.code = code;
  return out.version == 3 ? parse_batch_reference(v, out.proof, error)
                          : parse_batch_proof(v, out.proof, error);
}

bool parse_countersign_value(std::string_view v, CountersignValue& out, std::string& error) {
  if (!strip_version(v, error)) return false;
  const std::string_view receipt = next_part(v), at = next_part(v);
  if (!is_hex64(receipt) || !parse_number(at, out.time_ms)) {
    error = "bad countersign fields (receipt;time_ms)";
    return false;
  }
  out.receipt = receipt;
  return parse_batch_proof(v, out.proof, error);
}

Digest32 receipt_leaf(Hasher& h, const ReceiptValue& r) {
  h.update(receipt_text(r.msg, r.proof.node, r.received_ms, r.code));
  return h.finish();
}

Digest32 countersign_leaf(Hasher& h, const CountersignValue& c) {
  h.update(countersign_text(c.receipt, c.proof.node, c.time_ms));
  return h.finish();
}

}  // namespace ptp
