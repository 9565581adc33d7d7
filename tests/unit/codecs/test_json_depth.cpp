#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "codecs/json_depth.h"
#include "codecs/queue_codec.h"
#include "router/rs/job_spec.h"

using namespace ptp;

namespace {
std::string nested(size_t levels, char open = '[', char close = ']') {
  return std::string(levels, open) + std::string(levels, close);
}
}  // namespace

TEST_CASE("JSON depth: brackets count outside strings only") {
  CHECK(json_depth_within("", 1));
  CHECK(json_depth_within("{}", 1));
  CHECK_FALSE(json_depth_within("{\"a\":[]}", 1));
  CHECK(json_depth_within(nested(64)));
  CHECK_FALSE(json_depth_within(nested(65)));
  CHECK_FALSE(json_depth_within(nested(65, '{', '}')));
  // Siblings do not add up: depth, not count.
  CHECK(json_depth_within("[[],[],[[]]]", 3));
  // Brackets inside strings, with escaped quotes and backslashes around them.
  CHECK(json_depth_within(R"({"k":"[[[[\"[[[[","v":"\\"})", 1));
  CHECK_FALSE(json_depth_within(R"({"k":"\\",[[]]})", 2));
  // An unterminated string hides what follows; the parser then refuses the text.
  CHECK(json_depth_within(R"(["[[[[)", 1));
}

TEST_CASE("JSON depth: a deeply nested queue body is refused fast, before parsing") {
  // 32 MiB of '[': the parser would take gigabytes; the scan stops at level 65.
  const std::string body(32u << 20, '[');
  QueueRequest q;
  Envelope env;
  auto t0 = std::chrono::steady_clock::now();
  Status st = decode_queue_request(Interface::kPush, QueueBodyFormat::kJson, {}, body, "", env, q);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(st.code == Code::kCodecError);
  CHECK(st.message.find("nested deeper than 64") != std::string::npos);
  CHECK(took < std::chrono::seconds(1));
  // 64 levels inside a valid push still parse (and fail only on the field type).
  std::string deep = R"({"topic":"t","payload":"","metadata":{"k":)" + nested(62) + "}}";
  st = decode_queue_request(Interface::kPush, QueueBodyFormat::kJson, {}, deep, "", env, q);
  CHECK(st.code == Code::kCodecError);
  CHECK(st.message.find("nested") == std::string::npos);
}

TEST_CASE("JSON depth: a job spec nested too deep is refused by name") {
  CHECK_THROWS_WITH_AS(rs::parse_job_spec("{\"job_id\":" + nested(100) + "}"),
                       "job spec: nested deeper than 64 levels", std::invalid_argument);
}
