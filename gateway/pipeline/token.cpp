#include "gateway/pipeline/token.h"

#include <optional>

namespace ptp {

Status verify_token(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix, HmacSha256& hmac,
                    VerifiedTokens& verified) {
  const AuthConfig& auth = cfg->auth;
  if (auth.enabled && !h.token.empty())
    if (auto expiry = verified.find(cfg, h)) return check_token_expiry(auth, *expiry, now_unix);
  std::optional<int64_t> expiry;
  Status st = verify_token(auth, h, now_unix, hmac, expiry);
  if (expiry) verified.remember(cfg, h, *expiry);
  return st;
}

}  // namespace ptp
