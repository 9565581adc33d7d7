#include "gateway/http/grpc_paths.h"

#include <array>
#include <boost/beast/core/string.hpp>
#include <utility>

namespace ptp {

std::optional<Interface> grpc_interface_for_path(std::string_view path) {
  static constexpr std::array<std::string_view, 2> kPackages{"/org.ppc.ptp.", "/org.ppc.grpc_ptp."};
  static constexpr std::array<std::pair<std::string_view, Interface>, 6> kMethods{{
      {"PrivateTransferProtocol/invoke", Interface::kInvoke},
      {"PrivateTransferProtocol/transport", Interface::kTransport},
      {"PrivateTransferTransport/push", Interface::kPush},
      {"PrivateTransferTransport/pop", Interface::kPop},
      {"PrivateTransferTransport/peek", Interface::kPeek},
      {"PrivateTransferTransport/release", Interface::kRelease},
  }};
  for (auto pkg : kPackages) {
    if (!path.starts_with(pkg)) continue;
    auto rest = path.substr(pkg.size());
    for (const auto& [m, iface] : kMethods)
      if (rest == m) return iface;
  }
  return std::nullopt;
}

GrpcContentType classify_grpc_content_type(std::string_view ct) {
  // ASCII comparisons without a locale: this runs for every HTTP/2 request.
  static constexpr std::string_view kGrpc = "application/grpc";
  // Most requests are no gRPC: the letter after "application/" tells most of them apart
  // before the full comparison.
  if (ct.size() < kGrpc.size() || (ct[12] | 0x20) != 'g' ||
      !boost::beast::iequals(ct.substr(0, kGrpc.size()), kGrpc))
    return GrpcContentType::kNone;
  std::string_view rest = ct.substr(kGrpc.size());
  rest = rest.substr(0, rest.find(';'));  // parameters do not matter
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (rest.empty() || boost::beast::iequals(rest, "+proto")) return GrpcContentType::kGrpc;
  if (rest.size() > 1 && rest[0] == '+') return GrpcContentType::kUnsupported;
  return GrpcContentType::kNone;
}

}  // namespace ptp
