// Token checks on the request path: common/token.h's check with this thread's cache of
// tokens it verified before under the same configuration snapshot.
#pragma once

#include <cstdint>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "common/hmac_sha256.h"
#include "common/token.h"
#include "gateway/config/config.h"
#include "gateway/pipeline/verified_tokens.h"

namespace ptp {

// The request path: a token this thread verified before under the same snapshot, for the
// same source, target and session, skips the HMAC (its expiry is still checked); a token
// that passes is remembered.
Status verify_token(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix, HmacSha256& hmac,
                    VerifiedTokens& verified);

}  // namespace ptp
