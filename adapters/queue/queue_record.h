// How a QueuedMessage is stored (embedded store values, Kafka record values): the message
// id, then the message as an org.ppc.ptp.Inbound (header fields and metadata in the
// metadata map, payload as payload). Pure, round-trips every Envelope field.
#pragma once

#include <string>
#include <string_view>

#include "adapters/queue/queue_store.h"

namespace ptp {

std::string encode_queue_record(const QueuedMessage& m);
// kCodecError on malformed bytes. out.offset is left unchanged.
Status decode_queue_record(std::string_view bytes, QueuedMessage& out);

}  // namespace ptp
