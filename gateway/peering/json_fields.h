// Reading the peering's JSON (the peer table file, admin bodies): a member's value when it
// has the expected type, else empty. The handshake's wire bodies are read more leniently
// (handshake.cpp), since other implementations send numbers as strings.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ptp {

// The string member `key` of object `o`; "" when absent or not a string.
inline std::string json_string_field(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The integer member `key` of object `o`; 0 when absent or not an integer.
inline int64_t json_integer_field(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace ptp
