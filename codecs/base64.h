// Standard base64 (RFC 4648 §4, with padding), for payloads in JSON bodies; and base64url
// without padding (RFC 4648 §5), for text that travels in headers and command lines
// (signed tokens, invitations).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ptp {

std::string base64_encode(std::string_view bytes);
// nullopt on characters outside the alphabet or bad padding. Whitespace is not accepted;
// missing padding is (several clients leave it out).
std::optional<std::string> base64_decode(std::string_view text);

// The URL- and filename-safe alphabet ('-' and '_' for '+' and '/'), no '=' padding.
std::string base64url_encode(std::string_view bytes);
// Strict: nullopt on any character outside that alphabet (padding included), on a length
// no encoder produces, or on non-zero leftover bits, so one byte string has one spelling.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace ptp
