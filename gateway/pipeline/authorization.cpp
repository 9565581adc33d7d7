#include "gateway/pipeline/authorization.h"

#include <algorithm>

#include "common/glob.h"
#include "gateway/route/route_table.h"

namespace ptp {
namespace {

bool any_match(const std::vector<std::string>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, text); });
}

}  // namespace

std::string_view authz_reason_name(AuthzReason r) {
  switch (r) {
    case AuthzReason::kNone:
      return "none";
    case AuthzReason::kNoPolicy:
      return "no_policy";
    case AuthzReason::kInterface:
      return "interface";
    case AuthzReason::kUri:
      return "uri";
    case AuthzReason::kTopic:
      return "topic";
  }
  return "unknown";
}

AuthzReason authorize(const Config& cfg, const AuthzRequest& r) {
  const AuthorizationConfig& a = cfg.authorization;
  if (!a.enabled || r.source == cfg.node_id) return AuthzReason::kNone;
  if (r.target != cfg.node_id) return AuthzReason::kNone;  // relayed: its holder decides
  const PeerPolicy* pol = find_peer_policy(a, r.source);
  if (!pol) return a.default_allow ? AuthzReason::kNone : AuthzReason::kNoPolicy;
  if (std::find(pol->interfaces.begin(), pol->interfaces.end(), r.iface) == pol->interfaces.end())
    return AuthzReason::kInterface;
  if (r.iface == Interface::kPush)
    return any_match(pol->topics, r.topic) ? AuthzReason::kNone : AuthzReason::kTopic;
  if (r.iface == Interface::kInvoke || r.iface == Interface::kTransport)
    return any_match(pol->uris, r.uri) ? AuthzReason::kNone : AuthzReason::kUri;
  return AuthzReason::kNone;
}

Status authz_refusal(const Config& cfg, const AuthzRequest& r, AuthzReason why) {
  const std::string who = "node " + std::string(r.source);
  const std::string here = " at node " + cfg.node_id;
  const std::string iface(interface_name(r.iface));
  std::string msg;
  switch (why) {
    case AuthzReason::kNone:
      return Status::Ok();
    case AuthzReason::kNoPolicy:
      msg = who + " has no authorization policy" + here + " (authorization.default: deny)";
      break;
    case AuthzReason::kInterface:
      msg = who + " is not authorized to call " + iface + here;
      break;
    case AuthzReason::kUri:
      msg = who + " is not authorized to call " + iface + " on x-ptp-uri '" + std::string(r.uri) +
            "'" + here;
      break;
    case AuthzReason::kTopic:
      msg = who + " is not authorized to push to topic '" + std::string(r.topic) + "'" + here;
      break;
  }
  return Status::Error(Code::kNotPermitted, std::move(msg), cfg.node_id);
}

}  // namespace ptp
