#include "common/token.h"

#include <openssl/crypto.h>

#include <array>
#include <charconv>
#include <optional>

#include "codecs/hex.h"

namespace ptp {
namespace {

constexpr size_t kPrefixLength = 3;   // "v1." | "g1."
constexpr size_t kMacHexLength = 64;  // SHA-256 and SM3

using MacHex = std::array<char, kMacHexLength>;

std::string_view prefix_of(MacDigest mac) { return mac == MacDigest::kSm3 ? "g1." : "v1."; }

// False only if OpenSSL fails. `hmac` is switched to `mac` first (once: a thread's context
// keeps the digest of its configuration).
bool mac_hex(Hmac& hmac, MacDigest mac, std::string_view key, std::string_view source,
             std::string_view target, std::string_view session, std::string_view expiry_text,
             MacHex& out) {
  if (hmac.digest() != mac) hmac.set_digest(mac);
  const std::string_view label = mac == MacDigest::kSm3 ? "ptp-token-g1\n" : "ptp-token-v1\n";
  const std::string_view parts[] = {label, source, "\n", target, "\n", session, "\n", expiry_text};
  Hmac::Digest d;
  if (!hmac.compute(key, parts, d)) return false;
  hex_encode_to(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()), out.data());
  return true;
}

Status forbidden(std::string msg) { return Status::Error(Code::kForbidden, std::move(msg)); }

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string_view token_version(MacDigest mac) { return prefix_of(mac).substr(0, 2); }

std::string mint_token(std::string_view key, std::string_view source_node,
                       std::string_view target_node, std::string_view session_id,
                       int64_t expiry_unix, MacDigest mac) {
  std::string expiry = std::to_string(expiry_unix);
  Hmac hmac(mac);
  MacHex hex;
  if (!mac_hex(hmac, mac, key, source_node, target_node, session_id, expiry, hex)) return {};
  return std::string(prefix_of(mac)) + expiry + "." + std::string(hex.data(), hex.size());
}

Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix) {
  Hmac hmac(auth.token_mac);
  return verify_token(auth, h, now_unix, hmac);
}

// Both bounds allow the clock skew: the minting node's clock may be ahead of or behind this
// one's. expiry >= 0 and now_unix >= 0 here, so the differences cannot overflow.
Status check_token_expiry(const AuthConfig& auth, int64_t expiry, int64_t now_unix) {
  const int64_t skew = auth.max_clock_skew.count();
  if (expiry < now_unix && now_unix - expiry > skew) {
    return forbidden("token expired " + std::to_string(now_unix - expiry) +
                     " s ago (allowed clock skew " + std::to_string(skew) + " s)");
  }
  const int64_t lifetime = auth.max_token_lifetime.count();
  if (expiry > now_unix && expiry - now_unix > lifetime + skew) {
    return forbidden("token expiry is " + std::to_string(expiry - now_unix) +
                     " s ahead, beyond the maximum token lifetime of " + std::to_string(lifetime) +
                     " s (auth.max_token_lifetime_s, allowed clock skew " + std::to_string(skew) +
                     " s)");
  }
  return Status::Ok();
}

namespace {

// Format and MAC of h.token; sets `expiry` when both are right.
// The refusal of a token without this profile's prefix: a token of the other profile is
// named as such (a gateway and its callers disagree on `crypto`).
Status wrong_prefix(const AuthConfig& auth, std::string_view t) {
  const MacDigest other = auth.token_mac == MacDigest::kSm3 ? MacDigest::kSha256 : MacDigest::kSm3;
  if (t.substr(0, kPrefixLength) == prefix_of(other))
    return forbidden("token is " + std::string(token_version(other)) + " (" +
                     std::string(mac_digest_name(other)) + "); this gateway takes " +
                     std::string(token_version(auth.token_mac)) + " tokens (" +
                     std::string(mac_digest_name(auth.token_mac)) + ", crypto: " +
                     (auth.token_mac == MacDigest::kSm3 ? "gm" : "international") + ")");
  return forbidden("malformed token (expected " + std::string(token_version(auth.token_mac)) +
                   ".<expiry>.<hmac>)");
}

Status check_mac(const AuthConfig& auth, const PtpHeader& h, Hmac& hmac, int64_t& expiry) {
  std::string_view t = h.token;
  if (t.substr(0, kPrefixLength) != prefix_of(auth.token_mac)) return wrong_prefix(auth, t);
  t.remove_prefix(kPrefixLength);
  size_t dot = t.find('.');
  if (dot == std::string_view::npos) return wrong_prefix(auth, {});
  std::string_view expiry_text = t.substr(0, dot);
  std::string_view mac = t.substr(dot + 1);
  auto [end, ec] =
      std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry);
  // Canonical decimal only (no sign, no leading zeros), so one expiry has one spelling.
  if (expiry_text.empty() || ec != std::errc() || end != expiry_text.data() + expiry_text.size() ||
      expiry < 0 || (expiry_text.size() > 1 && expiry_text[0] == '0') ||
      mac.size() != kMacHexLength || !is_lower_hex(mac)) {
    return wrong_prefix(auth, {});
  }

  auto key = auth.node_keys.find(h.source_node_id);
  if (key == auth.node_keys.end()) {
    return forbidden("no key configured for source node '" + printable_node_id(h.source_node_id) +
                     "'");
  }
  MacHex expected;
  if (!mac_hex(hmac, auth.token_mac, key->second, h.source_node_id, h.target_node_id, h.session_id,
               expiry_text, expected) ||
      CRYPTO_memcmp(expected.data(), mac.data(), kMacHexLength) != 0) {
    return forbidden("token does not match (session/source/target binding)");
  }
  return Status::Ok();
}

}  // namespace

Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix, Hmac& hmac,
                    std::optional<int64_t>& verified_expiry) {
  if (!auth.enabled) return Status::Ok();
  if (h.token.empty()) return forbidden("missing token (x-ptp-token)");
  int64_t expiry = 0;
  if (Status st = check_mac(auth, h, hmac, expiry); !st.ok()) return st;
  // Checked after the MAC so that only authentic tokens learn about expiry.
  if (Status st = check_token_expiry(auth, expiry, now_unix); !st.ok()) return st;
  verified_expiry = expiry;
  return Status::Ok();
}

Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix, Hmac& hmac) {
  std::optional<int64_t> unused;
  return verify_token(auth, h, now_unix, hmac, unused);
}

std::string_view auth_mode_name(AuthMode m) {
  switch (m) {
    case AuthMode::kHmac:
      return "hmac";
    case AuthMode::kSignature:
      return "signature";
    case AuthMode::kPassthrough:
      return "passthrough";
    case AuthMode::kNone:
      return "none";
  }
  return "unknown";
}

bool parse_auth_mode(std::string_view name, AuthMode& out) {
  for (AuthMode m :
       {AuthMode::kHmac, AuthMode::kSignature, AuthMode::kPassthrough, AuthMode::kNone}) {
    if (auth_mode_name(m) == name) {
      out = m;
      return true;
    }
  }
  return false;
}

std::string printable_node_id(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c >= 0x7f || c == '\'') ? '?' : static_cast<char>(c);
  }
  if (s.size() > kMax) out += "...";
  return out;
}

}  // namespace ptp
