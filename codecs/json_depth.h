// A bound on how deeply a JSON text nests, checked by one pass over its bytes before any
// parser builds it: nlohmann::json parses recursively and allocates a value per level, so
// 60 MiB of '[' would take gigabytes and seconds. Every request body parsed as JSON goes
// through json_depth_within first.
#pragma once

#include <cstddef>
#include <string_view>

namespace ptp {

// Deeper than any PTP message needs (push bodies nest three levels).
constexpr size_t kMaxJsonDepth = 64;

// True when no array or object in `text` is nested more than `max_depth` levels deep.
// Brackets inside strings (escapes included) do not count; the text need not be valid JSON
// (the parser that follows judges that). Stops at the first level too deep.
bool json_depth_within(std::string_view text, size_t max_depth = kMaxJsonDepth);

}  // namespace ptp
