#include "tools/ptpctl/gateway_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

namespace ptp::ptpctl {
namespace {

std::string scalar(const YAML::Node& parent, const char* key) {
  if (!parent || !parent.IsMap()) return "";
  const YAML::Node n = parent[key];
  return n && n.IsScalar() ? n.Scalar() : "";
}

}  // namespace

std::optional<GatewayConfig> read_gateway_config(const Options& o) {
  const auto path = o.get("config");
  if (!path) return std::nullopt;
  GatewayConfig g;
  try {
    const YAML::Node root = YAML::LoadFile(*path);
    const auto resolve = [&](const std::string& f) {
      if (f.empty()) return f;
      std::filesystem::path p = f;
      if (p.is_relative()) p = std::filesystem::path(*path).parent_path() / p;
      return p.lexically_normal().string();
    };
    const YAML::Node admin = root["admin"];
    if (const std::string port = scalar(admin, "port"); !port.empty()) {
      size_t used = 0;
      const unsigned long v = std::stoul(port, &used);
      if (used != port.size() || v == 0 || v > 65535)
        throw UsageError("--config " + *path + ": bad admin.port " + port);
      g.admin_port = static_cast<uint16_t>(v);
    }
    g.admin_address = scalar(admin, "address");
    g.admin_tls = admin && admin.IsMap() && admin["tls"];
    g.credential_file = resolve(scalar(admin, "credential_file"));
    g.identity_dir = resolve(scalar(root["identity"], "dir"));
    g.node_id = scalar(root["node"], "node_id");
    g.inst_id = scalar(root["node"], "inst_id");
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError("cannot read --config " + *path + ": " + e.what());
  }
  return g;
}

}  // namespace ptp::ptpctl
