// gRPC method paths of PTP (both the org.ppc.ptp and the org.ppc.grpc_ptp package
// spellings are accepted), and which content types are gRPC.
#pragma once

#include <optional>
#include <string_view>

#include "codecs/interface.h"

namespace ptp {

std::optional<Interface> grpc_interface_for_path(std::string_view path);

// What a request's content-type says under the gRPC over HTTP/2 protocol:
// "application/grpc" or "application/grpc+proto", optionally with parameters after ';',
// is gRPC spoken here (kGrpc); "application/grpc+<other subtype>" is gRPC in a message
// encoding not spoken here (kUnsupported); anything else ("application/grpc-web",
// "application/grpcXYZ", none) is not gRPC (kNone). Type and subtype compare without case.
enum class GrpcContentType { kNone, kGrpc, kUnsupported };
GrpcContentType classify_grpc_content_type(std::string_view content_type);

constexpr std::string_view kGrpcInvokePath = "/org.ppc.ptp.PrivateTransferProtocol/invoke";
constexpr std::string_view kGrpcTransportPath = "/org.ppc.ptp.PrivateTransferProtocol/transport";

}  // namespace ptp
