// Well-formed UTF-8 (RFC 3629): what the JSON logs copy as it is, and what request fields
// that end up in evidence records must be (codecs/field_text.h): a JSON string cannot carry
// other bytes, so a record would hold U+FFFD instead, and the message's signed fields could
// no longer be recomputed from it (docs/evidence.md).
#pragma once

#include <cstddef>
#include <string_view>

namespace ptp {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is not one
// (overlong forms, surrogates and values above U+10FFFF are rejected).
size_t utf8_sequence_length(std::string_view s, size_t i);

// Whether all of `s` is well-formed UTF-8 (ASCII is).
bool is_valid_utf8(std::string_view s);

}  // namespace ptp
