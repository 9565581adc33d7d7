// org.ppc.ptp protobuf messages (docs/protocol.md, messages) <-> Envelope.
#pragma once

#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"

namespace ptp {

// Decoders replace `out` entirely. Malformed bytes are kCodecError; conflicting header
// spellings in the metadata map are kBadRequest (see decode_headers).
Status decode_inbound(std::string_view bytes, Envelope& out);
std::string encode_inbound(const Envelope& e);

// Outbound.code/message <-> e.status. An empty code is success; a code we do not know
// becomes kUnknown with the peer's code in the message. A message in the form that
// Status::to_string() produces is split back into hop and message, so relaying an error
// through several gateways does not nest the text.
Status decode_outbound(std::string_view bytes, Envelope& out);
std::string encode_outbound(const Envelope& e);

// TransportOutbound exists in two layouts with the same wire types (docs/protocol.md, dialects);
// the bytes cannot tell them apart, so the caller's dialect decides.
//   kCurrent: metadata = 1, payload = 2, code = 3, message = 4
//   kLegacy:  payload = 1, code = 2, message = 3 (no metadata)
enum class TransportLayout { kCurrent, kLegacy };
std::string encode_transport_outbound(const Envelope& e, TransportLayout layout);
Status decode_transport_outbound(std::string_view bytes, TransportLayout layout, Envelope& out);

}  // namespace ptp
