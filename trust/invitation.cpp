#include "trust/invitation.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "codecs/hex.h"
#include "codecs/json_depth.h"
#include "codecs/validate.h"
#include "common/hmac.h"
#include "common/random_hex.h"
#include "trust/host_port.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

constexpr size_t kCodeBytes = 32;

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string hmac_hex(std::string_view code, std::string_view label, std::string_view a,
                     std::string_view b, std::string_view fp) {
  const std::string_view parts[] = {label, "\n", a, "\n", b, "\n", fp};
  Hmac hmac;
  Hmac::Digest mac;
  if (!hmac.compute(code, parts, mac)) return {};
  return hex_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string signed_text(std::string_view label, std::string_view a, std::string_view b,
                        std::string_view address, std::string_view fp, std::string_view auth_code) {
  std::string t(label);
  for (std::string_view part : {a, b, address, fp, auth_code}) t.append("\n").append(part);
  return t;
}

}  // namespace

std::string new_invitation_code() { return random_hex(kCodeBytes); }

std::string encode_invitation(const Invitation& inv) {
  Json j = {{"v", inv.version},         {"code", inv.code},          {"inviter", inv.inviter},
            {"inst", inv.inviter_inst}, {"address", inv.address},    {"root_fp", inv.root_fp},
            {"for", inv.joiner},        {"expire_at", inv.expire_at}};
  return std::string(kInvitationPrefix) + base64url_encode(j.dump());
}

std::optional<Invitation> decode_invitation(std::string_view text, std::string& error) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' ||
                           text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.size() > kMaxInvitationBytes) {
    error = "invitation longer than " + std::to_string(kMaxInvitationBytes) + " bytes";
    return std::nullopt;
  }
  if (text.substr(0, kInvitationPrefix.size()) != kInvitationPrefix) {
    error = "not an invitation (expected ptpinv1.<base64url>)";
    return std::nullopt;
  }
  auto json_text = base64url_decode(text.substr(kInvitationPrefix.size()));
  if (!json_text) {
    error = "invitation damaged: not base64url after ptpinv1.";
    return std::nullopt;
  }
  Json j = json_depth_within(*json_text, 1) ? Json::parse(*json_text, nullptr, false) : Json();
  if (!j.is_object()) {
    error = "invitation damaged: not a flat JSON object";
    return std::nullopt;
  }
  Invitation inv;
  std::string missing;
  auto str = [&](const char* name, std::string& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) {
      if (missing.empty()) missing = name;
      return;
    }
    out = it->get<std::string>();
  };
  auto integer = [&](const char* name, int64_t& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer() ||
        (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX))) {
      if (missing.empty()) missing = name;
      return;
    }
    out = it->get<int64_t>();
  };
  int64_t version = 0;
  integer("v", version);
  str("code", inv.code);
  str("inviter", inv.inviter);
  str("inst", inv.inviter_inst);
  str("address", inv.address);
  str("root_fp", inv.root_fp);
  str("for", inv.joiner);
  integer("expire_at", inv.expire_at);
  if (!missing.empty()) {
    error = "invitation incomplete: field \"" + missing + "\" missing or of the wrong type";
    return std::nullopt;
  }
  if (version != 1) {
    error = "invitation version " + std::to_string(version) + " is not supported (expected 1)";
    return std::nullopt;
  }
  inv.version = 1;
  std::string host;
  std::string why;
  if (!is_hex64(inv.code)) {
    error = "invitation damaged: code is not 64 lowercase hex digits";
  } else if (!is_hex64(inv.root_fp)) {
    error = "invitation damaged: root_fp is not 64 lowercase hex digits";
  } else if (!is_valid_id(inv.inviter) || !is_valid_id(inv.joiner) ||
             !is_valid_id(inv.inviter_inst)) {
    error = "invitation damaged: inviter, for and inst must be ids of [A-Za-z0-9._:-]";
  } else if (!parse_host_port(inv.address, host, why)) {
    error = "invitation damaged: " + why;
  } else if (inv.expire_at < 0) {
    error = "invitation damaged: expire_at is negative";
  } else {
    return inv;
  }
  return std::nullopt;
}

std::string weave_proof(std::string_view code, std::string_view inviter, std::string_view joiner,
                        std::string_view joiner_root_fp) {
  return hmac_hex(code, "ptp-weave-v1", inviter, joiner, joiner_root_fp);
}

std::string ack_proof(std::string_view code, std::string_view inviter, std::string_view joiner,
                      std::string_view inviter_root_fp) {
  return hmac_hex(code, "ptp-ack-v1", inviter, joiner, inviter_root_fp);
}

bool proof_matches(std::string_view expected, std::string_view received) {
  return !expected.empty() && expected.size() == received.size() &&
         CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

std::string weave_signed_text(std::string_view inviter, std::string_view joiner,
                              std::string_view joiner_address, std::string_view joiner_root_fp,
                              std::string_view auth_code) {
  return signed_text("ptp-weave-v1", inviter, joiner, joiner_address, joiner_root_fp, auth_code);
}

std::string ack_signed_text(std::string_view inviter, std::string_view joiner,
                            std::string_view inviter_address, std::string_view inviter_root_fp,
                            std::string_view auth_code) {
  return signed_text("ptp-ack-v1", inviter, joiner, inviter_address, inviter_root_fp, auth_code);
}

}  // namespace ptp
