// ptpctl peers ...: the peer routes of the admin port (docs/ptpctl.md).
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;

std::string text(const Json& j, std::initializer_list<const char*> keys, std::string def = "-") {
  for (const char* k : keys) {
    if (!j.contains(k)) continue;
    const Json& v = j[k];
    if (v.is_string() && !v.get<std::string>().empty()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  }
  return def;
}

long long number(const Json& j, const char* key) {
  if (!j.contains(key)) return 0;
  if (j[key].is_number()) return j[key].get<long long>();
  if (j[key].is_string()) {
    try {
      return std::stoll(j[key].get<std::string>());
    } catch (const std::exception&) {
    }
  }
  return 0;
}

int list(const AdminClient& client, const Options& o) {
  const AdminResponse r = client.request("GET", "/peers");
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const Json j = Json::parse(r.body, nullptr, false);
  const Json* peers = &j;
  if (j.is_object() && j.contains("peers")) peers = &j["peers"];
  if (!peers->is_array()) {
    std::cerr << "ptpctl: unexpected answer of GET /peers (not a list of peers)\n";
    return kExitFailed;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Json& p : *peers) {
    if (!p.is_object()) continue;
    std::string source = text(p, {"source", "origin"}, "");
    if (source.empty() && p.contains("dynamic") && p["dynamic"].is_boolean())
      source = p["dynamic"].get<bool>() ? "dynamic" : "yaml";
    std::string fp = text(p, {"root_fp", "root_fingerprint"});
    if (fp != "-" && !fp.starts_with("sha256:")) fp = "sha256:" + fp;
    rows.push_back({text(p, {"node_id"}), text(p, {"state"}, "active"),
                    source.empty() ? "-" : source, text(p, {"auth", "auth_mode"}),
                    address_in_use(p), utc_time(number(p, "expires_at")).substr(0, 10), fp});
  }
  // 16+8+7+11+21+10+20 + 6 separators = 99 columns.
  std::cout << table({{"NODE", 16},
                      {"STATE", 8},
                      {"SOURCE", 7},
                      {"AUTH", 11},
                      {"ADDRESS", 21},
                      {"EXPIRES", 10},
                      {"ROOT", 20}},
                     rows);
  return kExitOk;
}

// A POST or DELETE whose answer is shown as `done` (or its "message") unless --json.
int mutate(const AdminClient& client, const Options& o, const std::string& method,
           const std::string& target, const Json& body, const std::string& done) {
  const AdminResponse r = client.request(method, target, body.is_null() ? "" : body.dump());
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  std::cout << done << "\n";
  return kExitOk;
}

std::string one_arg(const Options& o, const char* what) {
  if (o.words.size() != 3)
    throw UsageError(std::string("peers ") + o.words[1] + " takes one argument: " + what);
  return o.words[2];
}

unsigned long long positive(const Options& o, const char* key) {
  const std::string v = *o.get(key);
  try {
    size_t used = 0;
    const unsigned long long n = std::stoull(v, &used);
    if (used == v.size() && n > 0) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(std::string("--") + key + " expects a positive number, got " + v);
}

}  // namespace

int run_peers(const Options& o) {
  if (o.words.size() < 2)
    throw UsageError(
        "peers needs a subcommand: list|invite|join|disable|enable|approve|renew|remove");
  const std::string& sub = o.words[1];
  const std::vector<std::string> allowed = sub == "invite"  ? std::vector<std::string>{"ttl"}
                                           : sub == "renew" ? std::vector<std::string>{"days"}
                                                            : std::vector<std::string>{};
  if (auto k = o.unknown(allowed)) throw UsageError("peers " + sub + ": unknown option --" + *k);
  const AdminClient client(o);
  if (sub == "list") {
    if (o.words.size() != 2) throw UsageError("peers list takes no arguments");
    return list(client, o);
  }
  if (sub == "invite") {
    const std::string node = one_arg(o, "the node id of the invited node");
    Json body = {{"node_id", node}};
    if (o.get("ttl")) body["ttl_s"] = positive(o, "ttl");
    const AdminResponse r = client.request("POST", "/peers/invite", body.dump());
    if (o.json) return pass_through(r);
    if (!r.ok()) return report_failure(r);
    const Json j = Json::parse(r.body, nullptr, false);
    const std::string inv = j.is_object() ? text(j, {"invitation"}, "") : "";
    if (inv.empty()) {
      std::cerr << "ptpctl: the answer carries no invitation\n";
      return kExitFailed;
    }
    // The invitation alone on stdout (for scripts); the explanation on stderr.
    std::cerr << "invitation for " << node << ", valid until " << utc_time(number(j, "expire_at"))
              << "; give it to " << node << "'s operator for: ptpctl peers join <invitation>\n";
    std::cout << inv << "\n";
    return kExitOk;
  }
  if (sub == "join") {
    const std::string inv = one_arg(o, "the invitation (ptpinv1...)");
    const AdminResponse r = client.request("POST", "/peers/join", Json{{"invitation", inv}}.dump());
    if (o.json) return pass_through(r);
    if (!r.ok()) return report_failure(r);
    const Json j = Json::parse(r.body, nullptr, false);
    std::cout << "joined " << (j.is_object() ? text(j, {"node_id"}) : "-") << ": state "
              << (j.is_object() ? text(j, {"state"}) : "-") << "\n";
    return kExitOk;
  }
  if (sub == "disable" || sub == "enable" || sub == "approve") {
    const std::string node = one_arg(o, "the peer's node id");
    const std::string done = sub == "disable"  ? "disabled"
                             : sub == "enable" ? "enabled"
                                               : "approved";
    return mutate(client, o, "POST", "/peers/" + path_segment(node) + "/" + sub, Json(),
                  "peer " + node + " " + done);
  }
  if (sub == "renew") {
    const std::string node = one_arg(o, "the peer's node id");
    Json body = Json::object();
    if (o.get("days")) body["days"] = positive(o, "days");
    const AdminResponse r =
        client.request("POST", "/peers/" + path_segment(node) + "/renew", body.dump());
    if (o.json) return pass_through(r);
    if (!r.ok()) return report_failure(r);
    const Json j = Json::parse(r.body, nullptr, false);
    std::cout << "peer " << node << " renewed";
    if (j.is_object() && number(j, "expires_at") > 0)
      std::cout << " until " << utc_time(number(j, "expires_at"));
    std::cout << "\n";
    return kExitOk;
  }
  if (sub == "remove") {
    const std::string node = one_arg(o, "the peer's node id");
    return mutate(client, o, "DELETE", "/peers/" + path_segment(node), Json(),
                  "peer " + node + " removed");
  }
  throw UsageError("unknown peers subcommand " + sub +
                   " (list|invite|join|disable|enable|approve|renew|remove)");
}

}  // namespace ptp::ptpctl
