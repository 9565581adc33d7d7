// The metadata a queued message may carry (docs/queues.md "Metadata"): checked at push
// with the rules of header names and values, since it leaves the gateway as headers
// (raw pop answers, node-to-node forwarding); metadata with no header of its own travels
// between nodes in one carrier header (kMessageMetadataHeader).
#pragma once

#include <cstddef>
#include <string>

#include "codecs/envelope.h"
#include "codecs/header_list.h"
#include "codecs/status.h"

namespace ptp {

// At most this many entries and this many bytes of names and values per message.
inline constexpr size_t kMaxMetadataEntries = 64;
inline constexpr size_t kMaxMetadataBytes = 16 << 10;

// Checks the metadata a container pushes and canonicalises it in place (an x-ptp-
// prefixed extension name such as x-ptp-message-code becomes message-code). A name must be
// a lower-case HTTP token, not a standard header field or alias (x-ptp-session-id,
// x-ptp-topic, ...), not one of the gateway's own fields or answer headers, not a
// hop-by-hop or framing header; a value at most max_value_length bytes without control
// characters; two names that leave as the same header, too many entries or too many bytes
// are refused. E0000000400 naming the key.
Status check_message_metadata(Metadata& md, size_t max_value_length);

// Sender side, before a message enters the outbox: moves the entries without a header of
// their own (not extension names) out of `meta` into meta[kMessageMetadataHeader], a JSON
// object in ASCII. Nothing to move: meta unchanged.
void pack_message_metadata(Metadata& meta);

// Receiver side: puts the carried entries back (checked like a push's; E0000000400 when
// the carrier is malformed) and removes the carrier.
Status unpack_message_metadata(Metadata& meta, size_t max_value_length);

// Whether every header is safe to write on HTTP/1.1 and HTTP/2: a lower-case token name,
// a value without control characters other than tab.
bool headers_writable(const HeaderList& headers);

}  // namespace ptp
