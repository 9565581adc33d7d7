// ptpctl status (liveness /healthz and readiness /readyz) and reload (POST /reload).
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {

int run_status(const Options& o) {
  if (o.words.size() != 1) throw UsageError("status takes no arguments");
  if (auto k = o.unknown({})) throw UsageError("status: unknown option --" + *k);
  const AdminClient client(o);
  const AdminResponse live = client.request("GET", "/healthz");
  const AdminResponse ready = client.request("GET", "/readyz");
  const bool ok = live.ok() && ready.ok();
  if (o.json) {
    nlohmann::json j = {{"admin", client.address()}, {"live", live.ok()}, {"ready", ready.ok()}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "gateway at " << client.address() << ": " << (live.ok() ? "live" : "not live")
              << ", " << (ready.ok() ? "ready" : "not ready") << "\n";
  }
  return ok ? kExitOk : kExitFailed;
}

int run_reload(const Options& o) {
  if (o.words.size() != 1) throw UsageError("reload takes no arguments");
  if (auto k = o.unknown({})) throw UsageError("reload: unknown option --" + *k);
  const AdminClient client(o);
  const AdminResponse r = client.request("POST", "/reload");
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  std::cout << (j.is_object() && j.contains("message") && j["message"].is_string()
                    ? j["message"].get<std::string>()
                    : std::string("reloaded"))
            << "\n";
  return kExitOk;
}

}  // namespace ptp::ptpctl
