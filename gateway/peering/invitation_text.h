// An invitation as the operator passes it on (docs/peering.md): "ptpinv1." followed by the
// base64url (no padding) of {"v":1,"code","inviter","inst","address","root_fp","for",
// "expire_at"}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/status.h"

namespace ptp {

struct InvitationText {
  std::string code;      // 64 hex characters, one-time
  std::string inviter;   // A
  std::string inst;      // A's institution
  std::string address;   // A's host:port
  std::string root_fp;   // A's root fingerprint (hex)
  std::string for_node;  // B
  int64_t expire_at = 0;
};

std::string format_invitation(const InvitationText& inv);
// E0000000400 with the reason when `text` is no invitation.
Status parse_invitation(std::string_view text, InvitationText& out);

}  // namespace ptp
