// The x-ptp-token of auth mode `signature` (docs/security.md): the source gateway signs the
// binding of source node, target node, session and expiry with its node key; the target
// (and any router on the way) checks it with the public key of the source's pinned root
// certificate, and cannot mint one.
//
//   token   = "s1." + <expiry, decimal unix seconds> + "." + base64url-nopad(signature)
//   message = "ptp-token-s1\n" + source + "\n" + target + "\n" + session + "\n" + <expiry>
//
// The signature is NodeKey::sign's (ECDSA P-256 SHA-256 DER, Ed25519 raw, SM2 SM3 with the
// default ID). Expiry, lifetime and clock-skew bounds are those of v1 tokens
// (common/token.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "common/token.h"
#include "trust/node_key.h"
#include "trust/public_key.h"

namespace ptp {

inline constexpr std::string_view kSignedTokenPrefix = "s1.";

// True when `token` is in the signed format (starts with "s1."), whether valid or not.
bool is_signed_token(std::string_view token);

// The text a signed token signs; `expiry` is the decimal text the token carries.
std::string signed_token_message(std::string_view source_node, std::string_view target_node,
                                 std::string_view session_id, std::string_view expiry);

// A token for a request from `source_node` (the node `key` belongs to) to `target_node` in
// `session_id`, valid until `expiry_unix` (>= 0). Empty only when signing fails.
std::string mint_signed_token(const NodeKey& key, std::string_view source_node,
                              std::string_view target_node, std::string_view session_id,
                              int64_t expiry_unix);

// Checks h.token, signed by `source_key` (the public key of h.source_node_id's pinned root),
// against h.source_node_id, h.target_node_id and h.session_id, then its expiry against
// `bounds` (max_clock_skew, max_token_lifetime; as check_token_expiry). Ok when
// bounds.enabled is false. Every failure is Code::kForbidden; messages never contain the
// token. `verified_expiry` is set when the token was checked and accepted.
Status verify_signed_token(const PublicKey& source_key, const AuthConfig& bounds,
                           const PtpHeader& h, int64_t now_unix,
                           std::optional<int64_t>& verified_expiry);

}  // namespace ptp
