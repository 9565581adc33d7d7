// ptpctl jobs list|show (docs/ptpctl.md): the router-server jobs of a gateway with
// router_server (GET /rs/jobs, GET /rs/jobs/<id>).
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

long long integer(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<long long>()
                                                                        : 0;
}

// "2/3" parties received of the spec's; "0/?" before the spec is in.
std::string parties(const Json& j) {
  const long long n = integer(j, "parties");
  return std::to_string(integer(j, "parties_received")) + "/" +
         (n > 0 ? std::to_string(n) : std::string("?"));
}

// A gateway without router_server has no /rs/jobs route: its admin port answers a plain 404.
int failure(const AdminResponse& r) {
  if (r.status == 404 && !Json::parse(r.body, nullptr, false).is_object()) {
    std::cerr << "ptpctl: this gateway runs no router server (router_server in its config)\n";
    return kExitFailed;
  }
  return report_failure(r);
}

int list(const Options& o) {
  if (o.words.size() != 2) throw UsageError("jobs list takes no arguments");
  const AdminResponse r = AdminClient(o).request("GET", "/rs/jobs");
  if (o.json && (r.ok() || r.status != 404)) return pass_through(r);
  if (!r.ok()) return failure(r);
  const Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("jobs") || !j["jobs"].is_array()) {
    std::cerr << "ptpctl: unexpected answer of GET /rs/jobs\n";
    return kExitFailed;
  }
  if (j["jobs"].empty()) {
    std::cout << "no router jobs\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Json& job : j["jobs"])
    rows.push_back({text(job, "job_id"), text(job, "state"), text(job, "source"), parties(job),
                    std::to_string(integer(job, "elements")), age_text(integer(job, "started_ms")),
                    text(job, "error")});
  std::cout << table({{"job", 24},
                      {"state", 10},
                      {"source", 8},
                      {"parties", 7},
                      {"elements", 9},
                      {"started", 8},
                      {"error", 27}},
                     rows);
  if (j.value("truncated", false)) std::cout << "(only the newest jobs are listed)\n";
  return kExitOk;
}

int show(const Options& o) {
  if (o.words.size() != 3) throw UsageError("jobs show takes one argument: the job id");
  const AdminResponse r = AdminClient(o).request("GET", "/rs/jobs/" + path_segment(o.words[2]));
  if (o.json && (r.ok() || Json::parse(r.body, nullptr, false).is_object())) return pass_through(r);
  if (!r.ok()) {
    const Json j = Json::parse(r.body, nullptr, false);
    if (r.status == 404 && j.is_object() && j.contains("error")) {
      std::cerr << "ptpctl: " << text(j, "error") << "\n";
      return kExitFailed;
    }
    return failure(r);
  }
  const Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object()) {
    std::cerr << "ptpctl: unexpected answer of GET /rs/jobs/" << o.words[2] << "\n";
    return kExitFailed;
  }
  const long long finished = integer(j, "finished_ms");
  std::cout << "job       " << text(j, "job_id") << "\n"
            << "state     " << text(j, "state") << "\n"
            << "source    " << (text(j, "source").empty() ? "-" : text(j, "source")) << "\n"
            << "parties   " << parties(j) << " received\n"
            << "elements  " << integer(j, "elements") << " (chunks "
            << integer(j, "chunks_delivered") << "/" << integer(j, "chunks") << " delivered)\n"
            << "started   " << utc_time(integer(j, "started_ms") / 1000) << " ("
            << age_text(integer(j, "started_ms")) << " ago)\n"
            << "finished  "
            << (finished ? utc_time(finished / 1000) + " (" + age_text(finished) + " ago)" : "-")
            << "\n"
            << "refused   " << integer(j, "refused") << " messages"
            << (text(j, "last_refusal").empty() ? "" : " (last: " + text(j, "last_refusal") + ")")
            << "\n"
            << "error     " << (text(j, "error").empty() ? "-" : text(j, "error")) << "\n";
  return kExitOk;
}

}  // namespace

int run_jobs(const Options& o) {
  if (o.words.size() < 2) throw UsageError("jobs needs a subcommand: list|show");
  const std::string& sub = o.words[1];
  if (auto k = o.unknown({})) throw UsageError("jobs " + sub + ": unknown option --" + *k);
  if (sub == "list") return list(o);
  if (sub == "show") return show(o);
  throw UsageError("unknown jobs subcommand " + sub + " (list|show)");
}

}  // namespace ptp::ptpctl
