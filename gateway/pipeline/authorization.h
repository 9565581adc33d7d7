// Per-peer authorization at the resource holder (docs/authorization.md): whether a request
// from another node may call what it asks for at this node. A pure function of the
// configuration and the request's head; the pipeline calls it once the request is
// authenticated and routed to this node (not for requests it relays to other nodes).
#pragma once

#include <string>
#include <string_view>

#include "codecs/interface.h"
#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

// Why a request was refused; kNone: allowed. Names are the metric's `reason` label.
enum class AuthzReason { kNone, kNoPolicy, kInterface, kUri, kTopic };
std::string_view authz_reason_name(AuthzReason r);

// What is asked of this node: the interface (a push from another node's outbox counts as
// `push`, with its message topic), the x-ptp-uri or the topic.
struct AuthzRequest {
  std::string_view source;  // x-ptp-source-node-id, authenticated
  std::string_view target;  // x-ptp-target-node-id
  Interface iface = Interface::kInvoke;
  std::string_view uri;    // invoke, transport
  std::string_view topic;  // push
};

// kNone for: no authorization section, a request from this node's own containers
// (source == cfg.node_id), a request whose target is another node (relayed), or a
// request its peer's policy allows. Otherwise the first thing refused.
AuthzReason authorize(const Config& cfg, const AuthzRequest& r);

// E0000000614 naming the peer, this node and what was refused.
Status authz_refusal(const Config& cfg, const AuthzRequest& r, AuthzReason why);

}  // namespace ptp
