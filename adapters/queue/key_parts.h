// Store keys that join user-supplied parts (topics and message ids may hold any
// character, '/' included): each part as <decimal length>':'<bytes>, so no two lists of
// parts give the same key ("x/y" + "z" and "x" + "y/z" stay apart).
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptp {

std::string join_key_parts(std::initializer_list<std::string_view> parts);

// The parts of a join_key_parts() key; nullopt when `key` is not one.
std::optional<std::vector<std::string>> split_key_parts(std::string_view key);

}  // namespace ptp
