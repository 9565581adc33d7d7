// The x-ptp-token scheme (docs/security.md): an HMAC over the claimed source node, the
// target node, the session id and an expiry, keyed by the source node's key.
//
//   token = "v1." + <expiry, decimal unix seconds> + "." + lowercase hex HMAC-SHA256(key,
//           "ptp-token-v1\n" + source_node + "\n" + target_node + "\n" + session_id +
//           "\n" + <expiry, same decimal text>)
//
// Under `crypto: gm` the same with HMAC-SM3, the version "g1" in the prefix and the label:
//
//   token = "g1." + <expiry> + "." + lowercase hex HMAC-SM3(key, "ptp-token-g1\n" + ...)
//
// Minting and the pure check; the gateway's per-thread cache of verified tokens wraps the
// check in gateway/pipeline/token.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "common/hmac.h"

namespace ptp {

// How requests from a source node are authenticated (docs/security.md, "Authentication
// modes"): `auth.mode` for every peer, `peers[i].auth` for one.
//  - kHmac: the v1 token below (g1 under `crypto: gm`), keyed by the source node's shared key.
//  - kSignature: the source gateway signs the token with its node key; checked with the
//    source's pinned root certificate (a router can check it and cannot mint one).
//  - kPassthrough: the token is another vendor's, forwarded unchanged to the local service;
//    the source node's identity comes from its mTLS certificate.
//  - kNone: no check (tests only; refused unless auth.allow_none is true).
enum class AuthMode { kHmac, kSignature, kPassthrough, kNone };

// "hmac", "signature", "passthrough", "none".
std::string_view auth_mode_name(AuthMode m);
// Accepts exactly the names auth_mode_name() returns.
bool parse_auth_mode(std::string_view name, AuthMode& out);

// The token keys and bounds (the `auth` section of the gateway's configuration).
struct AuthConfig {
  bool enabled = true;
  AuthMode mode = AuthMode::kHmac;  // auth.mode: peers without their own `auth`
  bool allow_none = false;          // auth.allow_none: whether mode `none` may be configured
  // Token keys by claimed source node id (see docs/security.md for the token scheme).
  std::map<std::string, std::string> node_keys;
  std::chrono::seconds max_clock_skew{300};
  // A token whose expiry lies further ahead than this (plus the clock skew) is refused: a
  // leaked token must not stay valid for ever.
  std::chrono::seconds max_token_lifetime{24 * 3600};
  // The MAC of hmac tokens: kSha256 (v1 tokens) or kSm3 (g1 tokens, `crypto: gm`). Only
  // tokens of this one kind are accepted.
  MacDigest token_mac = MacDigest::kSha256;
};

// "v1" (HMAC-SHA256) or "g1" (HMAC-SM3): the version an hmac token of `mac` carries.
std::string_view token_version(MacDigest mac);

// A v1 token (mac kSha256) or a g1 token (kSm3); empty only when OpenSSL fails.
std::string mint_token(std::string_view key, std::string_view source_node,
                       std::string_view target_node, std::string_view session_id,
                       int64_t expiry_unix, MacDigest mac = MacDigest::kSha256);

// Checks h.token against h.source_node_id, h.target_node_id and h.session_id with the key
// auth.node_keys[h.source_node_id] and the MAC auth.token_mac. Ok when auth is disabled. Every
// failure is Code::kForbidden; messages never contain the token or the key.
Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix);
// The same with a long-lived HMAC context (the request path: one per I/O thread).
Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix, Hmac& hmac);
// The same; `verified_expiry` is set when a token was checked and accepted.
Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix, Hmac& hmac,
                    std::optional<int64_t>& verified_expiry);

// A node id taken from a request, for an error message: printable (control characters,
// non-ASCII and quotes become '?') and at most 64 characters.
std::string printable_node_id(std::string_view s);

// Expired, or valid for longer than auth.max_token_lifetime (an expiry far in the future,
// up to INT64_MAX, would make a leaked token valid for ever). Both bounds allow the clock
// skew. Requires expiry >= 0 and now_unix >= 0.
Status check_token_expiry(const AuthConfig& auth, int64_t expiry, int64_t now_unix);

}  // namespace ptp
