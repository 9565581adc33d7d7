// Structural checks on a decoded request (docs/protocol.md, headers): required fields per
// interface, lengths, characters. Runs after the gateway has filled trace id and source node.
#pragma once

#include <cstdint>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/interface.h"
#include "codecs/status.h"

namespace ptp {

struct ValidationLimits {
  uint32_t max_field_length = 1024;
  uint64_t max_body_bytes = 64ull << 20;
};

// Non-empty and only [A-Za-z0-9._:-].
bool is_valid_id(std::string_view id);

// kBadRequest for a missing required field, an over-long or control-character field or
// meta value, or an id with characters outside [A-Za-z0-9._:-]; kTooLarge when the body
// exceeds max_body_bytes. The message names the offending field.
Status validate_request(const Envelope& e, Interface iface, const ValidationLimits& lim);

}  // namespace ptp
