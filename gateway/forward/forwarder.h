// Sends a Request on to its next hop — a peer gateway or a local service — encoded in
// the protocol that hop's route names, and turns the answer back into a Response.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "codecs/encapsulated_codec.h"
#include "gateway/config/config.h"
#include "gateway/exchange/exchange.h"

namespace ptp {

class UpstreamPool;
class Http1ClientPool;
class H2ClientSession;
class H2Exchange;

struct UpstreamTarget {
  std::string name;  // peer node id or "service <pattern>", for errors and metrics
  Endpoint endpoint;
  PeerProtocol protocol = PeerProtocol::kHttp2;
  std::string path;  // HTTP path or gRPC method path
  TlsClientConfig tls;
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds keepalive{30000};
  // A v1.1.0 peer (peers[i].encapsulation): requests go encapsulated, without x-ptp-version.
  std::optional<EncapsulatedFormat> encapsulation;
};

UpstreamTarget target_for_peer(const PeerConfig& p, Interface iface);
UpstreamTarget target_for_service(const LocalServiceConfig& s);

class Forwarder {
 public:
  // Short-lived: `cfg` must outlive the forward() call (not the exchange).
  Forwarder(UpstreamPool& h2, Http1ClientPool& h1, const Config& cfg)
      : h2_(h2), h1_(h1), cfg_(cfg) {}
  void forward(Request&& req, const UpstreamTarget& target, Responder done);

 private:
  void forward_h2(Request&& req, const UpstreamTarget& target, Responder done);
  void forward_http1(Request&& req, const UpstreamTarget& target, Responder done);
  // Opens the stream on a connected session; answers through `ex` when it cannot.
  static void submit_h2(H2ClientSession& session, Request& req, const UpstreamTarget& target,
                        std::unique_ptr<H2Exchange> ex);

  UpstreamPool& h2_;
  Http1ClientPool& h1_;
  const Config& cfg_;
};

// Maps an upstream HTTP answer (status, headers, body) onto a Response. Errors name the
// hop as "<hop_name>" or, with an address, "<hop_name> (<hop_address>)".
Response response_from_http(int http_status, HeaderList headers, std::string body,
                            std::string_view hop_name, std::string_view hop_address = {});

// The upstream headers that travel back to the client (no hop-by-hop, PTP status or
// gRPC framing headers): is_relayed_header by name, and no gRPC content-type.
bool is_relayed_header(std::string_view name);
HeaderList relayed_headers(HeaderList in);

}  // namespace ptp
