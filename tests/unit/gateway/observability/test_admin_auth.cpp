#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "gateway/observability/admin_auth.h"

using namespace ptp;

TEST_CASE("bearer check: the operator token, in the Bearer scheme, matches") {
  const std::string tok = "operator-token-0123456789abcdef";
  CHECK(check_bearer("Bearer " + tok, tok) == BearerCheck::kOk);
  CHECK(check_bearer("bearer " + tok, tok) == BearerCheck::kOk);  // scheme is case-insensitive
  CHECK(check_bearer("  Bearer   " + tok + " ", tok) == BearerCheck::kOk);
}

TEST_CASE("bearer check: missing, other scheme, wrong, prefix, longer, none configured") {
  const std::string tok = "operator-token-0123456789abcdef";
  CHECK(check_bearer("", tok) == BearerCheck::kMissing);
  CHECK(check_bearer("Bearer", tok) == BearerCheck::kMissing);
  CHECK(check_bearer("Bearer ", tok) == BearerCheck::kMissing);
  CHECK(check_bearer("Basic " + tok, tok) == BearerCheck::kMissing);
  CHECK(check_bearer("Bearer" + tok, tok) == BearerCheck::kMissing);
  CHECK(check_bearer("Bearer operator-token-0123456789abcdeX", tok) == BearerCheck::kWrong);
  CHECK(check_bearer("Bearer operator-token-0123456789abcde", tok) == BearerCheck::kWrong);
  CHECK(check_bearer("Bearer " + tok + "f", tok) == BearerCheck::kWrong);
  CHECK(check_bearer("Bearer " + tok, "") == BearerCheck::kNotConfigured);
  CHECK(check_bearer("", "") == BearerCheck::kNotConfigured);
}

TEST_CASE("bearer refusals: 401 without, 403 wrong or not configured, JSON errors") {
  auto [s1, b1] = bearer_refusal(BearerCheck::kMissing);
  CHECK(s1 == 401);
  CHECK(nlohmann::json::parse(b1)["code"] == "E0000000403");
  auto [s2, b2] = bearer_refusal(BearerCheck::kWrong);
  CHECK(s2 == 403);
  auto [s3, b3] = bearer_refusal(BearerCheck::kNotConfigured);
  CHECK(s3 == 403);
  CHECK(nlohmann::json::parse(b3)["message"] ==
        "no operator credential configured (admin.credential_file)");
}
