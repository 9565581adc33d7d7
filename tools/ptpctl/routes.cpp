// ptpctl routes [NODE] (docs/ptpctl.md): the effective route table of a gateway's current
// config (GET /routes), or the decision for one target (GET /routes?node=...).
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;

std::string text(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string or_dash(std::string s) { return s.empty() ? "-" : s; }

int table_of_routes(const Options& o) {
  const AdminResponse r = AdminClient(o).request("GET", "/routes");
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("peers") || !j["peers"].is_array()) {
    std::cerr << "ptpctl: unexpected answer of GET /routes\n";
    return kExitFailed;
  }
  std::cout << "node " << text(j, "node_id") << " (" << or_dash(text(j, "inst_id")) << ")"
            << (j.value("router", false) ? ", router" : "")
            << "; default route: " << or_dash(text(j, "default_route")) << "\n";
  std::vector<std::vector<std::string>> peers;
  for (const Json& p : j["peers"])
    peers.push_back({text(p, "node_id"), or_dash(text(p, "inst_id")), or_dash(text(p, "next_hop")),
                     address_in_use(p),
                     or_dash(text(p, "protocol")) + (p.value("tls", false) ? "+tls" : ""),
                     text(p, "state") + (p.value("async_only", false) ? ", async" : "")});
  // 16+12+16+26+10+14 + 5 separators = 99 columns.
  if (!peers.empty())
    std::cout << table({{"PEER", 16},
                        {"INST", 12},
                        {"NEXT HOP", 16},
                        {"ADDRESS", 26},
                        {"PROTOCOL", 10},
                        {"STATE", 14}},
                       peers);
  std::vector<std::vector<std::string>> services;
  for (const Json& s : j.value("local_services", Json::array()))
    services.push_back({text(s, "uri"), text(s, "address"), text(s, "protocol"), text(s, "path"),
                        s.value("passive", false) ? "passive" : "-"});
  if (!services.empty())
    std::cout << table(
        {{"LOCAL URI", 24}, {"ADDRESS", 21}, {"PROTOCOL", 8}, {"PATH", 32}, {"MODE", 8}}, services);
  return kExitOk;
}

int one_route(const Options& o) {
  const std::string node = o.words.size() > 1 ? o.words[1] : "";
  const AdminResponse r =
      AdminClient(o).request("GET", "/routes" + query_string({{"node", node},
                                                              {"inst", o.get("inst").value_or("")},
                                                              {"uri", o.get("uri").value_or("")}}));
  if (o.json && (r.ok() || Json::parse(r.body, nullptr, false).is_object())) return pass_through(r);
  const Json j = Json::parse(r.body, nullptr, false);
  const std::string kind = text(j, "kind");
  if (!r.ok() || kind.empty() || kind == "error") {
    if (kind == "error") {
      std::cerr << "ptpctl: no route to " << text(j, "target") << ": " << text(j, "code") << " "
                << text(j, "message") << "\n";
      return kExitFailed;
    }
    return report_failure(r);
  }
  std::cout << text(j, "target") << ": ";
  if (kind == "peer")
    std::cout << "next hop " << text(j, "next_hop") << " at " << text(j, "address") << " ("
              << text(j, "protocol") << "), route " << text(j, "route") << "\n";
  else if (kind == "local")
    std::cout << "this node, local service " << text(j, "service") << " at " << text(j, "address")
              << " (" << text(j, "protocol") << ")\n";
  else
    std::cout << "this node, answered by the gateway itself (" << kind << ")\n";
  return kExitOk;
}

}  // namespace

int run_routes(const Options& o) {
  if (auto bad = o.unknown({"inst", "uri"})) throw UsageError("routes: unknown option --" + *bad);
  if (o.words.size() > 2) throw UsageError("routes takes at most one argument: a node id");
  if (o.words.size() == 1 && !o.get("inst") && !o.get("uri")) return table_of_routes(o);
  return one_route(o);
}

}  // namespace ptp::ptpctl
