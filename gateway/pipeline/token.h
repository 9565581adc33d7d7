// Token checks on the request path (docs/security.md, "Authentication modes"): by the
// mode of the claimed source node, with this thread's cache of tokens it verified before
// under the same configuration snapshot.
#pragma once

#include <cstdint>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "common/hmac.h"
#include "common/token.h"
#include "gateway/config/config.h"
#include "gateway/evidence/root_keys.h"
#include "gateway/pipeline/verified_tokens.h"
#include "trust/signed_token.h"

namespace ptp {

// What one I/O thread keeps for token checks. Not thread-safe.
struct TokenChecks {
  Hmac hmac;
  VerifiedTokens verified;          // hmac and signature tokens verified under the current snapshot
  RootKeys roots;                   // the peers' pinned roots' keys, parsed once per snapshot
  uint64_t signatures_checked = 0;  // signature verifications done (cache misses)
};

// The hmac check with the cache: a token this thread verified before under the same
// snapshot, for the same source, target and session, skips the HMAC (its expiry is still
// checked); a token that passes is remembered.
Status verify_token(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix, Hmac& hmac,
                    VerifiedTokens& verified);

// The check of a request claiming source S = h.source_node_id that arrived over a hop
// whose certificate names `hop_node_id` (empty: none):
//  - S is this node (its own containers): the hmac check with auth.node_keys[S]; not
//    checked when the target's mode is passthrough (the token is the target's format).
//  - otherwise by auth_mode_for(S): hmac; signature (the s1 token, checked with S's pinned
//    root's key); passthrough (no check, the hop must be S itself); none (no check).
// Ok when auth is disabled. Every failure is Code::kForbidden.
Status check_request_token(const ConfigPtr& cfg, const PtpHeader& h, std::string_view hop_node_id,
                           int64_t now_unix, TokenChecks& checks);

}  // namespace ptp
