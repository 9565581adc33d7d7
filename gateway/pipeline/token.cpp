#include "gateway/pipeline/token.h"

#include <optional>
#include <string>

namespace ptp {
namespace {

Status forbidden(std::string msg) { return Status::Error(Code::kForbidden, std::move(msg)); }

// An s1 token from S, checked with the key of S's pinned root; remembered when it passes.
Status verify_signature(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix,
                        TokenChecks& checks) {
  std::string error;
  const PublicKey* key = checks.roots.find(cfg, h.source_node_id, error);
  if (!key)
    return forbidden(error.empty()
                         ? "no pinned root for source node " + printable_node_id(h.source_node_id)
                         : "source node " + printable_node_id(h.source_node_id) + ": " + error);
  ++checks.signatures_checked;
  std::optional<int64_t> expiry;
  Status st = verify_signed_token(*key, cfg->auth, h, now_unix, expiry);
  if (expiry) checks.verified.remember(cfg, h, *expiry);
  return st;
}

// A v1 token, checked with the source's key; remembered when it passes.
Status verify_hmac(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix,
                   TokenChecks& checks) {
  std::optional<int64_t> expiry;
  Status st = verify_token(cfg->auth, h, now_unix, checks.hmac, expiry);
  if (expiry) checks.verified.remember(cfg, h, *expiry);
  return st;
}

}  // namespace

Status verify_token(const ConfigPtr& cfg, const PtpHeader& h, int64_t now_unix, Hmac& hmac,
                    VerifiedTokens& verified) {
  const AuthConfig& auth = cfg->auth;
  if (auth.enabled && !h.token.empty())
    if (auto expiry = verified.find(cfg, h)) return check_token_expiry(auth, *expiry, now_unix);
  std::optional<int64_t> expiry;
  Status st = verify_token(auth, h, now_unix, hmac, expiry);
  if (expiry) verified.remember(cfg, h, *expiry);
  return st;
}

Status check_request_token(const ConfigPtr& cfg, const PtpHeader& h, std::string_view hop_node_id,
                           int64_t now_unix, TokenChecks& checks) {
  const Config& c = *cfg;
  if (!c.auth.enabled) return Status::Ok();
  // A token this thread verified under this snapshot for the same source, target and
  // session (hmac or signature: the mode of a source is fixed within a snapshot).
  if (!h.token.empty())
    if (auto expiry = checks.verified.find(cfg, h))
      return check_token_expiry(c.auth, *expiry, now_unix);
  if (h.source_node_id == c.node_id) {
    // This node's own container: a token for a passthrough target is in that target's
    // format, for its service to check.
    if (auth_mode_for(c, h.target_node_id) == AuthMode::kPassthrough) return Status::Ok();
    return verify_hmac(cfg, h, now_unix, checks);
  }
  switch (auth_mode_for(c, h.source_node_id)) {
    case AuthMode::kHmac:
      return verify_hmac(cfg, h, now_unix, checks);
    case AuthMode::kSignature:
      return verify_signature(cfg, h, now_unix, checks);
    case AuthMode::kPassthrough:
      // The token is for the local service; who sent it is the hop's certificate.
      if (hop_node_id != h.source_node_id)
        return forbidden("passthrough source " + printable_node_id(h.source_node_id) +
                         " must connect with its certificate");
      return Status::Ok();
    case AuthMode::kNone:
      return Status::Ok();
  }
  return forbidden("unknown authentication mode");
}

}  // namespace ptp
