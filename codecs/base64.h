// Standard base64 (RFC 4648 §4, with padding), for payloads in JSON bodies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ptp {

std::string base64_encode(std::string_view bytes);
// nullopt on characters outside the alphabet or bad padding. Whitespace is not accepted;
// missing padding is (several clients leave it out).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ptp
