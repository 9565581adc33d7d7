// The operator credential of the admin port (docs/security.md): a bearer token read from
// admin.credential_file (read by the config loader), required on every mutating admin
// route. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "codecs/status.h"

namespace ptp {

enum class BearerCheck {
  kOk,
  kMissing,        // no Authorization header, or not "Bearer <token>"  -> 401
  kWrong,          // a token that does not match                       -> 403
  kNotConfigured,  // this node has no operator credential               -> 403
};

// Compares the Authorization header value with `expected` (empty: none configured). The
// comparison takes the same time whatever the presented token is: both sides are hashed
// with SHA-256 and the digests compared with CRYPTO_memcmp, so neither the content nor the
// length of the expected token leaks through timing.
BearerCheck check_bearer(std::string_view authorization, std::string_view expected);

// {"code":"E...","message":...}: the error body of every admin route.
std::string admin_error_json(Code code, std::string_view message);

// {HTTP status, JSON error body} for a failed check (kOk: {200, ""}).
std::pair<unsigned, std::string> bearer_refusal(BearerCheck c);

}  // namespace ptp
