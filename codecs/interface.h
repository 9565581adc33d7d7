// Which PTP interface a request is for (docs/protocol.md, interfaces) and which wire it came on.
#pragma once

#include <cstddef>
#include <string_view>

namespace ptp {

// kWeave and kAck: the peering handshake's node-management interfaces
// (POST /v1/interconn/net/weave and /net/ack, JSON bodies, no PTP header; docs/peering.md).
enum class Interface { kInvoke, kTransport, kPush, kPop, kPeek, kRelease, kWeave, kAck };
enum class WireProtocol { kHttp1, kHttp2, kGrpc };

constexpr std::string_view interface_name(Interface i) {
  switch (i) {
    case Interface::kInvoke:
      return "invoke";
    case Interface::kTransport:
      return "transport";
    case Interface::kPush:
      return "push";
    case Interface::kPop:
      return "pop";
    case Interface::kPeek:
      return "peek";
    case Interface::kRelease:
      return "release";
    case Interface::kWeave:
      return "weave";
    case Interface::kAck:
      return "ack";
  }
  return "unknown";
}

// The peering handshake's interfaces: plain JSON, answered by the peering service.
constexpr bool is_peering_interface(Interface i) {
  return i == Interface::kWeave || i == Interface::kAck;
}

// Their bodies (a Route record) are small; larger ones are refused before they are read.
constexpr size_t kPeeringBodyLimit = 64 << 10;

constexpr std::string_view wire_name(WireProtocol w) {
  switch (w) {
    case WireProtocol::kHttp1:
      return "http1";
    case WireProtocol::kHttp2:
      return "http2";
    case WireProtocol::kGrpc:
      return "grpc";
  }
  return "unknown";
}

}  // namespace ptp
