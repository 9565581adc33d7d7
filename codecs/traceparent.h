// W3C Trace Context (https://www.w3.org/TR/trace-context/), the `traceparent` header:
//   "<version>-<trace id>-<parent id>-<flags>", e.g.
//   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".
// A request without x-ptp-trace-id takes its trace id from a valid traceparent; the header
// travels on unchanged to the next hop and the local service (docs/observability.md).
#pragma once

#include <string_view>

#include "codecs/envelope.h"

namespace ptp {

// The trace id (32 lower-case hex digits) of a valid traceparent value, or empty when the
// value is malformed (which the specification says to ignore): a version other than 2
// lower-case hex digits or "ff"; version 00 not exactly 55 characters; a later version
// shorter, or longer without a '-' after the flags; a trace id or parent id that is not
// lower-case hex of its length, or all zeros; flags that are not 2 lower-case hex digits.
std::string_view traceparent_trace_id(std::string_view value);

// On a request's way in: a malformed traceparent leaves e.meta (ignored, not passed on); a
// valid one gives its trace id to e.header.trace_id when that is empty.
void adopt_traceparent(Envelope& e);

}  // namespace ptp
