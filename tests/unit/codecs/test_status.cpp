#include <doctest/doctest.h>

#include "codecs/status.h"

using namespace ptp;

TEST_CASE("status codes format and parse") {
  CHECK(code_string(Code::kForbidden) == "E0000000403");
  CHECK(code_string(Code::kOk) == "E0000000000");
  CHECK(code_string(static_cast<Code>(2147483647)) == "E2147483647");
  CHECK(code_string(static_cast<Code>(-5)) == "E-000000005");
  Code c{};
  CHECK(parse_code("E0000000618", c));
  CHECK(c == Code::kNotPeered);
  CHECK(parse_code("413", c));
  CHECK(c == Code::kTooLarge);
  CHECK_FALSE(parse_code("E0000000999", c));
  CHECK_FALSE(parse_code("E00x", c));
}

TEST_CASE("status maps to HTTP and gRPC") {
  CHECK(http_status(Code::kForbidden) == 403);
  CHECK(grpc_status(Code::kForbidden) == 7);
  CHECK(http_status(Code::kTimeout) == 504);
  CHECK(grpc_status(Code::kTimeout) == 4);
  CHECK(grpc_status(Code::kOk) == 0);
  Status s = Status::Error(Code::kUnreachable, "connect refused", "B");
  CHECK(s.to_string() == "E0000000607 network unreachable at node B: connect refused");
}
