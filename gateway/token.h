// The x-ptp-token scheme (docs/security.md): an HMAC-SHA256 over the claimed source
// node, the target node, the session id and an expiry, keyed by the source node's key.
//
//   token = "v1." + <expiry, decimal unix seconds> + "." + lowercase hex HMAC-SHA256(key,
//           "ptp-token-v1\n" + source_node + "\n" + target_node + "\n" + session_id +
//           "\n" + <expiry, same decimal text>)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "gateway/config.h"
#include "gateway/hmac_sha256.h"
#include "gateway/verified_tokens.h"

namespace ptp {

std::string mint_token(std::string_view key, std::string_view source_node,
                       std::string_view target_node, std::string_view session_id,
                       int64_t expiry_unix);

// Checks h.token against h.source_node_id, h.target_node_id and h.session_id with the key
// auth.node_keys[h.source_node_id]. Ok when auth is disabled. Every failure is
// Code::kForbidden; messages never contain the token or the key.
Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix);
// The same with a long-lived HMAC context (the request path: one per I/O thread).
Status verify_token(const AuthConfig& auth, const PtpHeader& h, int64_t now_unix, HmacSha256& hmac);
// The request path: a token this thread verified before under the same snapshot, for the
// same source, target and session, skips the HMAC (its expiry is still checked); a token
// that passes is remembered.
Status verify_token(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix, HmacSha256& hmac,
                    VerifiedTokens& verified);

}  // namespace ptp
