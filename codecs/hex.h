// Lower-case hexadecimal text of bytes (digests, MACs, random ids).
#pragma once

#include <string>
#include <string_view>

namespace ptp {

std::string hex_encode(std::string_view bytes);

}  // namespace ptp
