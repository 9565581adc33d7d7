// Which PTP interface a request is for (docs/protocol.md, interfaces) and which wire it came on.
#pragma once

#include <string_view>

namespace ptp {

enum class Interface { kInvoke, kTransport, kPush, kPop, kPeek, kRelease };
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
  }
  return "unknown";
}

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
