#include <doctest/doctest.h>

#include "common/node_uri.h"

using namespace ptp;

TEST_CASE("node uri: round trip and refusals") {
  CHECK(node_uri("B") == "urn:ptp:node:B");
  CHECK(node_id_from_uri("urn:ptp:node:B").value() == "B");
  CHECK_FALSE(node_id_from_uri("urn:ptp:node:").has_value());
  CHECK_FALSE(node_id_from_uri("urn:ptp:nodeB").has_value());
  CHECK_FALSE(node_id_from_uri("https://b.example").has_value());
  CHECK_FALSE(certificate_node_id(nullptr).has_value());
}
