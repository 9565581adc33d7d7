// A byte count as operators read it: "512 B", "1 MiB", "1.5 GiB" (powers of 1024, one
// decimal unless whole). Used in diagnosis reasons and ptpctl's tables alike.
#pragma once

#include <cstdint>
#include <string>

namespace ptp {

std::string human_bytes(uint64_t n);

}  // namespace ptp
