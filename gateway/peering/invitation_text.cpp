#include "gateway/peering/invitation_text.h"

#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "codecs/json_depth.h"

namespace ptp {
namespace {

using Json = nlohmann::json;
constexpr std::string_view kPrefix = "ptpinv1.";
constexpr size_t kMaxText = 4096;

bool is_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status bad(std::string why) {
  return Status::Error(Code::kBadRequest, "not an invitation (ptpinv1...): " + std::move(why));
}

}  // namespace

std::string format_invitation(const InvitationText& inv) {
  Json o{{"v", 1},
         {"code", inv.code},
         {"inviter", inv.inviter},
         {"inst", inv.inst},
         {"address", inv.address},
         {"root_fp", inv.root_fp},
         {"for", inv.for_node},
         {"expire_at", inv.expire_at}};
  std::string b = base64_encode(o.dump());
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b.empty() && b.back() == '=') b.pop_back();
  return std::string(kPrefix) + b;
}

Status parse_invitation(std::string_view text, InvitationText& out) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() > kMaxText) return bad("longer than 4096 characters");
  if (!text.starts_with(kPrefix)) return bad("it does not start with ptpinv1.");
  std::string b(text.substr(kPrefix.size()));
  for (char& c : b) {
    if (c == '+' || c == '/') return bad("not base64url");
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  auto json = base64_decode(b);
  if (!json) return bad("not base64url");
  if (!json_depth_within(*json, 2)) return bad("nested too deeply");
  Json o = Json::parse(*json, nullptr, false);
  if (!o.is_object()) return bad("not a JSON object");
  auto s = [&](const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (o.value("v", 0) != 1) return bad("version is not 1");
  out.code = s("code");
  out.inviter = s("inviter");
  out.inst = s("inst");
  out.address = s("address");
  out.root_fp = s("root_fp");
  out.for_node = s("for");
  out.expire_at = o.contains("expire_at") && o["expire_at"].is_number_integer()
                      ? o["expire_at"].get<int64_t>()
                      : 0;
  if (!is_hex(out.code, 64)) return bad("code is not 64 hex characters");
  if (!is_hex(out.root_fp, 64)) return bad("root_fp is not 64 hex characters");
  if (out.inviter.empty() || out.for_node.empty() || out.address.empty() || out.expire_at <= 0)
    return bad("inviter, for, address and expire_at are required");
  return Status::Ok();
}

}  // namespace ptp
