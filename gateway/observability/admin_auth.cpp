#include "gateway/observability/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "codecs/status.h"

namespace ptp {
namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest sha256(std::string_view s) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

BearerCheck check_bearer(std::string_view authorization, std::string_view expected) {
  if (expected.empty()) return BearerCheck::kNotConfigured;
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !ieq(authorization.substr(0, kScheme.size()), kScheme) ||
      (authorization[kScheme.size()] != ' ' && authorization[kScheme.size()] != '\t'))
    return BearerCheck::kMissing;
  const std::string_view token = trim(authorization.substr(kScheme.size()));
  if (token.empty()) return BearerCheck::kMissing;
  const Digest a = sha256(token), b = sha256(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0 ? BearerCheck::kOk : BearerCheck::kWrong;
}

std::string admin_error_json(Code code, std::string_view message) {
  nlohmann::json j = {{"code", code_string(code)}, {"message", std::string(message)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::pair<unsigned, std::string> bearer_refusal(BearerCheck c) {
  switch (c) {
    case BearerCheck::kOk:
      return {200, ""};
    case BearerCheck::kMissing:
      return {401, admin_error_json(Code::kForbidden,
                                    "this admin route needs the operator credential: "
                                    "Authorization: Bearer <token of admin.credential_file>")};
    case BearerCheck::kWrong:
      return {403, admin_error_json(Code::kForbidden, "operator credential does not match")};
    case BearerCheck::kNotConfigured:
      break;
  }
  return {403, admin_error_json(Code::kForbidden,
                                "no operator credential configured (admin.credential_file)")};
}

}  // namespace ptp
