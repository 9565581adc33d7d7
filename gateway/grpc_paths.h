// gRPC method paths of PTP (PTP.md §2, §5.1: both the org.ppc.ptp and the
// org.ppc.grpc_ptp package spellings are accepted).
#pragma once

#include <optional>
#include <string_view>

#include "codecs/interface.h"

namespace ptp {

std::optional<Interface> grpc_interface_for_path(std::string_view path);

constexpr std::string_view kGrpcInvokePath = "/org.ppc.ptp.PrivateTransferProtocol/invoke";
constexpr std::string_view kGrpcTransportPath = "/org.ppc.ptp.PrivateTransferProtocol/transport";

}  // namespace ptp
