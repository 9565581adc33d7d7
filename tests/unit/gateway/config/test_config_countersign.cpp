// The signature keys of helper sign: a batch window of 0 (sign at the end of the loop's
// turn) is accepted, a negative one refused; peers[i].countersign parsed (default off).
#include <doctest/doctest.h>

#include <string>

#include "config_test_support.h"

using namespace ptp;
using ptp::testing::error_of;
using ptp::testing::parse_ok;

namespace {

const std::string kBase = R"(
node: {node_id: R, inst_id: INST_R, role: router}
listen: {port: 17305}
auth: {node_keys: {R: "k-r"}}
)";

}  // namespace

TEST_CASE("evidence signatures: batch window 0 allowed, negative refused") {
  CHECK(parse_ok(kBase + "evidence: {batch_window_us: 0}\n")->evidence.batch_window_us == 0);
  CHECK(error_of(kBase + "evidence: {batch_window_us: -1}\n").find("evidence.batch_window_us") !=
        std::string::npos);
}

TEST_CASE("evidence signatures: peers[i].countersign") {
  auto cfg = parse_ok(kBase + R"(
peers:
  - {node_id: A, address: "127.0.0.1:1"}
  - {node_id: B, address: "127.0.0.1:2", countersign: true}
)");
  CHECK_FALSE(cfg->peers.at(0).countersign);
  CHECK(cfg->peers.at(1).countersign);
  CHECK(error_of(kBase + R"(
peers:
  - {node_id: B, address: "127.0.0.1:2", countersign: maybe}
)")
            .find("countersign") != std::string::npos);
}
