// ptpctl identity init|show|renew-tls: the node's identity directory (docs/identity.md),
// local files only, through the trust/ library.
#include "trust/identity.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/gateway_config.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "-" : out;
}

int days(const Options& o, const char* key, int def) {
  const auto v = o.get(key);
  if (!v) return def;
  try {
    size_t used = 0;
    const int n = std::stoi(*v, &used);
    if (used == v->size() && n > 0 && n <= 36500) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(std::string("--") + key + " expects a number of days (1-36500), got " + *v);
}

// --dir, else identity.dir of --config.
std::string identity_dir(const Options& o, const std::optional<GatewayConfig>& g) {
  if (auto d = o.get("dir")) return *d;
  if (g && !g->identity_dir.empty()) return g->identity_dir;
  throw UsageError("no identity directory: give --dir, or --config with identity.dir");
}

Json describe(const NodeIdentity& id, const std::string& dir) {
  return {{"dir", dir},
          {"node_id", id.node_id},
          {"inst_id", id.inst_id},
          {"algorithm", std::string(key_algorithm_name(id.algorithm))},
          {"address", id.address},
          {"root_fp", id.root_fingerprint()},
          {"root_not_after", id.root.not_after_unix()},
          {"tls_not_after", id.tls_certificate().not_after_unix()},
          {"tls_hosts", id.tls_certificate().hosts()}};
}

void print(const NodeIdentity& id, const std::string& dir) {
  std::cout << "node         " << id.node_id << "\n"
            << "institution  " << id.inst_id << "\n"
            << "algorithm    " << key_algorithm_name(id.algorithm) << "\n"
            << "address      " << id.address << "\n"
            << "root         sha256:" << id.root_fingerprint() << "\n"
            << "root valid   until " << utc_time(id.root.not_after_unix()) << "\n"
            << "tls valid    until " << utc_time(id.tls_certificate().not_after_unix()) << "\n"
            << "tls hosts    " << join(id.tls_certificate().hosts()) << "\n"
            << "directory    " << dir << "\n";
}

int show(const NodeIdentity& id, const std::string& dir, const Options& o) {
  if (o.json)
    std::cout << describe(id, dir).dump() << "\n";
  else
    print(id, dir);
  return kExitOk;
}

int fail(const std::string& what, const std::string& error) {
  std::cerr << "ptpctl: " << what << ": " << error << "\n";
  return kExitFailed;
}

}  // namespace

int run_identity(const Options& o) {
  if (o.words.size() != 2) throw UsageError("identity needs one subcommand: init|show|renew-tls");
  const std::string& sub = o.words[1];
  const auto g = read_gateway_config(o);
  std::string error;
  if (sub == "init") {
    if (auto k = o.unknown(
            {"dir", "node-id", "inst-id", "address", "algorithm", "host", "days", "tls-days"}))
      throw UsageError("identity init: unknown option --" + *k);
    const std::string dir = identity_dir(o, g);
    IdentityOptions opts;
    opts.node_id = o.get("node-id").value_or(g ? g->node_id : "");
    opts.inst_id = o.get("inst-id").value_or(g ? g->inst_id : "");
    if (opts.node_id.empty()) throw UsageError("identity init needs --node-id (or --config)");
    if (opts.inst_id.empty()) throw UsageError("identity init needs --inst-id (or --config)");
    opts.address = o.get("address").value_or("");
    if (opts.address.empty())
      throw UsageError("identity init needs --address host:port (announced to peers)");
    if (auto a = o.get("algorithm"); a && !parse_key_algorithm(*a, opts.algorithm))
      throw UsageError("--algorithm: expected ecdsa-p256, ed25519 or sm2, got " + *a);
    opts.hosts = o.all("host");
    opts.root_days = days(o, "days", opts.root_days);
    opts.tls_days = days(o, "tls-days", opts.tls_days);
    auto id = create_identity(dir, opts, error);
    if (!id) return fail("identity init " + dir, error);
    if (!o.json)
      std::cerr << "created the identity of node " << id->node_id << " in " << dir
                << "; peers check its root fingerprint:\n";
    return show(*id, dir, o);
  }
  if (sub == "show") {
    if (auto k = o.unknown({"dir"})) throw UsageError("identity show: unknown option --" + *k);
    const std::string dir = identity_dir(o, g);
    auto id = load_identity(dir, error);
    if (!id) return fail("identity " + dir, error);
    return show(*id, dir, o);
  }
  if (sub == "renew-tls") {
    if (auto k = o.unknown({"dir", "host", "tls-days"}))
      throw UsageError("identity renew-tls: unknown option --" + *k);
    const std::string dir = identity_dir(o, g);
    auto id = renew_tls_certificate(dir, o.all("host"), days(o, "tls-days", 397), error);
    if (!id) return fail("identity renew-tls " + dir, error);
    if (!o.json)
      std::cerr << "renewed tls.key and tls.crt under the same root (no re-peering needed); "
                   "restart the gateway to use them:\n";
    return show(*id, dir, o);
  }
  throw UsageError("unknown identity subcommand " + sub + " (init|show|renew-tls)");
}

}  // namespace ptp::ptpctl
