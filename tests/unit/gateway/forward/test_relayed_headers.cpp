// Which upstream answer headers travel back to the client (gateway/forward/forwarder.h).
#include <doctest/doctest.h>

#include "gateway/forward/forwarder.h"

namespace ptp {

TEST_CASE("is_relayed_header drops hop-by-hop, framing and PTP status headers only") {
  for (const char* name :
       {":status", "content-length", "grpc-status", "grpc-message", "grpc-encoding", "x-ptp-code",
        "x-ptp-message", "x-ptp-hop", "date", "server", "connection", "keep-alive",
        "transfer-encoding", "te", "via", "x-ptp-trace-id", "x-ptp-session-id"}) {
    CAPTURE(name);
    CHECK_FALSE(is_relayed_header(name));
  }
  // Names of the same lengths as dropped ones, and the service's own headers, travel back.
  for (const char* name : {"content-type",
                           "x-ptp-uri",
                           "x-ptp-hops",
                           "x-ptp-topic",
                           "x-ptp-message-id",
                           "x-echo-x-ptp-token",
                           "etag",
                           "vary",
                           "tk",
                           "age",
                           "x-ptp-route-path",
                           "cache-control",
                           "x-ptp-source-node-id",
                           "accept-ranges",
                           "x-ptp-hop-count",
                           "set-cookie",
                           "x-frame-options",
                           "x-ptp-diag-node",
                           "grpc",
                           ""}) {
    CAPTURE(name);
    CHECK(is_relayed_header(name));
  }
}

TEST_CASE("relayed_headers keeps order and drops a gRPC hop's content-type") {
  HeaderList in{
      {"content-type", "application/grpc+proto"}, {"x-a", "1"}, {"date", "today"}, {"x-b", "2"}};
  CHECK(relayed_headers(in) == HeaderList{{"x-a", "1"}, {"x-b", "2"}});
  HeaderList typed{{"content-type", "application/json"}};
  CHECK(relayed_headers(typed) == typed);
}

}  // namespace ptp
