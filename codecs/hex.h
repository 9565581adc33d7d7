// Lower-case hexadecimal text of bytes (digests, MACs, random ids).
#pragma once

#include <string>
#include <string_view>

namespace ptp {

std::string hex_encode(std::string_view bytes);
// The same into out[0 .. 2 * bytes.size()), for callers that keep it on the stack.
void hex_encode_to(std::string_view bytes, char* out);

}  // namespace ptp
