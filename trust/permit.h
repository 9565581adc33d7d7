// Permits (docs/authorization.md "Permits"): a resource holder's signed grant to a partner
// node of one resource (type, exact id or glob, level) for a time window and a number of
// uses. The holder's node key signs it; the grantee's gateway presents it in the
// `x-ptp-permit` header; the holder checks it (signature with its own key, scope, time)
// and counts its uses (gateway/permits/).
//
//   permit    = "ptpp1." + base64url-nopad(payload JSON) + "." + base64url-nopad(signature)
//   payload   = {"v":1,"id":"<32 hex>","holder":..,"holder_inst":..,"grantee":..,
//                "grantee_inst":..,"type":..,"resource":..,"level":1..9,"not_before":<unix s>,
//                "not_after":<unix s>,"uses":<0 = unlimited>}
//   signature = NodeKey::sign("ptp-permit-v1\n" + <the payload JSON bytes as encoded>)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trust/node_key.h"
#include "trust/public_key.h"

namespace ptp {

inline constexpr std::string_view kPermitPrefix = "ptpp1.";
// Longer header values are refused before they are decoded.
inline constexpr size_t kMaxPermitText = 4096;

struct PermitPayload {
  std::string id;  // 32 lower-case hex
  std::string holder, holder_inst;
  std::string grantee, grantee_inst;
  std::string type;      // service, topic, router_job, dataset, model, project, job, task
  std::string resource;  // an exact id or a glob (`*` any run of characters)
  int level = 1;         // 1..9
  int64_t not_before = 0, not_after = 0;  // unix seconds, both inclusive
  int64_t uses = 0;                       // 0: unlimited

  bool operator==(const PermitPayload&) const = default;
};

struct Permit {
  PermitPayload payload;
  std::string payload_json;  // the bytes the signature covers (after the context line)
  std::string signature;
  std::string text;  // the whole "ptpp1..." form
};

// True for the eight resource types of the format.
bool is_permit_type(std::string_view type);
// The payload's JSON, members in the order of the format. Does not validate.
std::string permit_payload_json(const PermitPayload& p);
// "ptp-permit-v1\n" + payload_json: what the holder signs.
std::string permit_signed_text(std::string_view payload_json);
// Checks the payload's fields (id, names, type, level, window, uses); empty when valid,
// else what is wrong.
std::string permit_payload_error(const PermitPayload& p);
// Signs `p` with the holder's key. nullopt (with `error`) for an invalid payload or when
// signing fails.
std::optional<Permit> issue_permit(const NodeKey& holder_key, const PermitPayload& p,
                                   std::string& error);
// The format alone (prefix, base64url parts, JSON, field types and ranges): nullopt with
// `error` for anything else. The signature is not checked here.
std::optional<Permit> parse_permit(std::string_view text, std::string& error);
// True when `p.signature` is the holder's over p.payload_json.
bool verify_permit(const PublicKey& holder_key, const Permit& p);

}  // namespace ptp
