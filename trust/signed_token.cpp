#include "trust/signed_token.h"

#include <charconv>

#include "codecs/base64.h"

namespace ptp {
namespace {

// Longer than any signature of a KeyAlgorithm (Ed25519 64 bytes, ECDSA P-256 / SM2 DER at
// most 72): a longer text is refused before it is decoded.
constexpr size_t kMaxSignatureBytes = 128;
constexpr size_t kMaxSignatureText = (kMaxSignatureBytes * 4 + 2) / 3;

Status forbidden(std::string msg) { return Status::Error(Code::kForbidden, std::move(msg)); }

// Parses "<expiry>.<signature>" (after the prefix): canonical decimal expiry (no sign, no
// leading zeros, so one expiry has one spelling) and base64url signature.
bool parse(std::string_view t, std::string_view& expiry_text, int64_t& expiry,
           std::string& signature) {
  size_t dot = t.find('.');
  if (dot == std::string_view::npos) return false;
  expiry_text = t.substr(0, dot);
  std::string_view sig_text = t.substr(dot + 1);
  auto [end, ec] =
      std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry);
  if (expiry_text.empty() || ec != std::errc() || end != expiry_text.data() + expiry_text.size() ||
      expiry < 0 || (expiry_text.size() > 1 && expiry_text[0] == '0')) {
    return false;
  }
  if (sig_text.empty() || sig_text.size() > kMaxSignatureText) return false;
  auto sig = base64url_decode(sig_text);
  if (!sig) return false;
  signature = std::move(*sig);
  return true;
}

}  // namespace

bool is_signed_token(std::string_view token) {
  return token.substr(0, kSignedTokenPrefix.size()) == kSignedTokenPrefix;
}

std::string signed_token_message(std::string_view source_node, std::string_view target_node,
                                 std::string_view session_id, std::string_view expiry) {
  std::string m;
  m.reserve(13 + source_node.size() + target_node.size() + session_id.size() + expiry.size() + 4);
  m.append("ptp-token-s1\n").append(source_node).append("\n").append(target_node).append("\n");
  m.append(session_id).append("\n").append(expiry);
  return m;
}

std::string mint_signed_token(const NodeKey& key, std::string_view source_node,
                              std::string_view target_node, std::string_view session_id,
                              int64_t expiry_unix) {
  const std::string expiry = std::to_string(expiry_unix);
  std::string sig = key.sign(signed_token_message(source_node, target_node, session_id, expiry));
  if (sig.empty()) return {};
  std::string token(kSignedTokenPrefix);
  token.append(expiry).append(".").append(base64url_encode(sig));
  return token;
}

Status verify_signed_token(const PublicKey& source_key, const AuthConfig& bounds,
                           const PtpHeader& h, int64_t now_unix,
                           std::optional<int64_t>& verified_expiry) {
  if (!bounds.enabled) return Status::Ok();
  if (h.token.empty()) return forbidden("missing token (x-ptp-token)");
  std::string_view t = h.token;
  std::string_view expiry_text;
  int64_t expiry = 0;
  std::string signature;
  if (!is_signed_token(t) ||
      !parse(t.substr(kSignedTokenPrefix.size()), expiry_text, expiry, signature)) {
    return forbidden("malformed token (expected s1.<expiry>.<signature>)");
  }
  if (!source_key.verify(
          signed_token_message(h.source_node_id, h.target_node_id, h.session_id, expiry_text),
          signature)) {
    return forbidden("token signature does not match (session/source/target binding)");
  }
  // Checked after the signature so that only authentic tokens learn about expiry.
  if (Status st = check_token_expiry(bounds, expiry, now_unix); !st.ok()) return st;
  verified_expiry = expiry;
  return Status::Ok();
}

}  // namespace ptp
