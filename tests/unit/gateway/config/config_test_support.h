// Shared by the config unit tests: parse a YAML text that must be refused (its message) or
// accepted (its value).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "gateway/config/config.h"

namespace ptp::testing {

// The error of a config text that must be refused, read as file "t.yaml".
inline std::string error_of(const std::string& yaml) {
  std::string error;
  ConfigPtr cfg = parse_config_text(yaml, "t.yaml", error);
  CHECK(cfg == nullptr);
  return error;
}

// The value of a config text that must be accepted (the test stops otherwise).
inline ConfigPtr parse_ok(const std::string& yaml) {
  std::string error;
  ConfigPtr cfg = parse_config_text(yaml, "t.yaml", error);
  INFO(error);
  REQUIRE(cfg != nullptr);
  return cfg;
}

}  // namespace ptp::testing
