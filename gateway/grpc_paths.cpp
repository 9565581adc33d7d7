#include "gateway/grpc_paths.h"

#include <array>
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

}  // namespace ptp
