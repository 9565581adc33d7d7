// peers[i].addresses and peers[i].health: several addresses of one peer, health-checked.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/config/config_store.h"
#include "tests/unit/gateway/config/config_test_support.h"

using namespace ptp;
using ptp::testing::error_of;
using ptp::testing::parse_ok;

namespace {

const std::string kBase = R"(
node: {node_id: A, inst_id: INST_A}
listen: {port: 17304}
auth: {node_keys: {A: "k-a"}}
peers:
)";

}  // namespace

TEST_CASE("peers[i].addresses: the first is the address, the choice starts there") {
  auto cfg = parse_ok(kBase +
                      "  - {node_id: B, addresses: [\"h1:1\", \"h2:2\", \"h3:3\"]}\n"
                      "  - {node_id: C, address: \"h4:4\"}\n");
  const PeerConfig& b = cfg->peers[0];
  REQUIRE(b.addresses.size() == 3);
  CHECK(b.addresses[1].to_string() == "h2:2");
  REQUIRE(b.address);
  CHECK(b.address->to_string() == "h1:1");
  REQUIRE(b.choice);
  CHECK(b.endpoint().to_string() == "h1:1");
  b.choice->index.store(2);
  CHECK(b.endpoint().to_string() == "h3:3");
  // Defaults of the checks.
  CHECK(b.health.interval.count() == 1000);
  CHECK(b.health.timeout.count() == 1000);
  CHECK(b.health.fall == 2);
  CHECK(b.health.rise == 2);
  // One address: no list, no choice; the endpoint is the address.
  const PeerConfig& c = cfg->peers[1];
  CHECK(c.addresses.empty());
  CHECK_FALSE(c.choice);
  CHECK(c.endpoint().to_string() == "h4:4");
}

TEST_CASE("peers[i].health is read") {
  auto cfg = parse_ok(kBase +
                      "  - node_id: B\n    addresses: [\"h1:1\", \"h2:2\"]\n"
                      "    health: {interval_ms: 500, timeout_ms: 200, fall: 3, rise: 1}\n");
  const PeerHealthConfig& h = cfg->peers[0].health;
  CHECK(h.interval.count() == 500);
  CHECK(h.timeout.count() == 200);
  CHECK(h.fall == 3);
  CHECK(h.rise == 1);
}

TEST_CASE("peers[i].addresses and health: validation errors") {
  struct Case {
    std::string peer;
    std::string message;
  };
  const Case cases[] = {
      {"{node_id: B, address: \"h:1\", addresses: [\"h:2\", \"h:3\"]}",
       "t.yaml: peers[0].addresses: give address (one) or addresses (two or more), not both"},
      {"{node_id: B, addresses: [\"h:2\"]}",
       "t.yaml: peers[0].addresses: expected 2 to 16 addresses, got 1 (one address: use address)"},
      {"{node_id: B, addresses: \"h:2\"}",
       "t.yaml: peers[0].addresses: expected a list of host:port, got a scalar"},
      {"{node_id: B, addresses: [\"h:2\", \"h:2\"]}",
       "t.yaml: peers[0].addresses[1]: duplicate address \"h:2\" (also peers[0].addresses[0])"},
      {"{node_id: B, addresses: [\"h:2\", \"h\"]}", "t.yaml: peers[0].addresses[1]: "},
      {"{node_id: B, addresses: [\"h:1\", \"h:2\"], via: C}",
       "t.yaml: peers[0]: a peer needs exactly one of address"},
      {"{node_id: B, address: \"h:1\", health: {fall: 3}}",
       "t.yaml: peers[0].health: only allowed with addresses (two or more): a peer with one "
       "address has nothing to fail over to"},
      {"{node_id: B, addresses: [\"h:1\", \"h:2\"], health: {fall: 0}}",
       "t.yaml: peers[0].health.fall: expected an integer from 1 to 100, got \"0\""},
      {"{node_id: B, addresses: [\"h:1\", \"h:2\"], health: {rise: 101}}",
       "t.yaml: peers[0].health.rise: expected an integer from 1 to 100, got \"101\""},
      {"{node_id: B, addresses: [\"h:1\", \"h:2\"], health: {interval_ms: 50}}",
       "t.yaml: peers[0].health.interval_ms: expected an integer from 100 to 3600000, got \"50\""},
      {"{node_id: B, addresses: [\"h:1\", \"h:2\"], health: {interval_ms: 500, timeout_ms: 600}}",
       "t.yaml: peers[0].health.timeout_ms: must not exceed interval_ms (500): a check ends "
       "before the next one starts"},
      {"{node_id: B, addresses: [\"h:1\", \"h:2\"], health: {every: 1}}",
       "t.yaml: peers[0].health.every: unknown key (expected one of: interval_ms, timeout_ms, "
       "fall, rise)"},
  };
  for (const auto& c : cases) {
    INFO(c.peer);
    const std::string error = error_of(kBase + "  - " + c.peer + "\n");
    CHECK(error.starts_with(c.message));
  }
}

TEST_CASE("a peer reached via one with several addresses uses the chosen one") {
  auto cfg = parse_ok(kBase +
                      "  - {node_id: R, addresses: [\"h1:1\", \"h2:2\"]}\n"
                      "  - {node_id: C, via: R}\n");
  const PeerConfig* hop = next_hop_for(*cfg, cfg->peers[1]);
  REQUIRE(hop);
  CHECK(hop->node_id == "R");
  cfg->peers[0].choice->index.store(1);
  CHECK(hop->endpoint().to_string() == "h2:2");
}

TEST_CASE("ConfigStore's prepare hook sees every snapshot before it is published") {
  namespace fs = std::filesystem;
  const fs::path file = fs::temp_directory_path() / ("ptp-prepare-" + std::to_string(::getpid()));
  const std::string yaml = kBase + "  - {node_id: B, addresses: [\"h1:1\", \"h2:2\"]}\n";
  std::ofstream(file) << yaml;
  std::string error;
  ConfigPtr first = load_config(file.string(), error);
  REQUIRE(first);
  ConfigStore store(first);
  std::vector<ConfigPtr> seen;
  // The hook (the health checker) carries its choice into each snapshot it is shown.
  store.set_prepare([&](const ConfigPtr& next) {
    const bool hidden =
        store.current() != next || next == first;  // not visible yet (but the first)
    CHECK(hidden);
    seen.push_back(next);
    next->peers[0].choice->index.store(1);
  });
  REQUIRE(seen.size() == 1);  // called at once with the current snapshot
  CHECK(seen[0] == first);
  std::ofstream(file) << yaml << "# changed\n";
  REQUIRE(store.reload(error));
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == store.current());
  CHECK(store.current()->peers[0].endpoint().to_string() == "h2:2");  // kept across the reload
  store.set_prepare(nullptr);
  fs::remove(file);
}
