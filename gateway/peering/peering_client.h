// The handshake's client (docs/peering.md): one POST of a JSON body to another node's PTP
// port over TLS (HTTP/1.1), asynchronous on the io_context it is given, bounded by a
// deadline. The server is accepted only when the last certificate of its chain (its node
// root) has the expected fingerprint, its leaf is issued by that root and names the
// expected node (URI SAN urn:ptp:node:<id>); the host name is not checked. No client
// certificate: the handshake's interfaces authenticate the body, not the connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

struct PeeringCall {
  Endpoint address;
  std::string path;  // "/v1/interconn/net/weave" or ".../ack"
  std::string body;
  std::string expect_node;  // the leaf must name this node
  std::string root_fp;      // the chain's last certificate must have this fingerprint
  std::chrono::milliseconds timeout{10000};
};

// Called once, on the io_context's thread: a transport or TLS failure (kUnreachable,
// kBadCertSignature for a server that is not the pinned node), the answer's {"code",
// "message"} when not E0000000000, or Ok with the answer's body.
using PeeringCallDone = std::function<void(Status st, std::string body)>;

void post_peering_call(boost::asio::io_context& ioc, PeeringCall call, PeeringCallDone done);

// The status an answer's JSON {"code","message"} carries (Ok for E0000000000); an answer
// that is no such JSON: kUnknown with the HTTP status.
Status answer_status(unsigned http_status, std::string_view body);

}  // namespace ptp
