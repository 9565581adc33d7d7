// ptpctl permits ...: the permit routes of the admin port (docs/ptpctl.md,
// docs/authorization.md "Permits").
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;

std::string field(const Json& j, const char* key) {
  if (!j.contains(key)) return "-";
  const Json& v = j[key];
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return "-";
}

long long integer(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_number_integer() ? j[key].get<long long>() : 0;
}

std::string uses_text(const Json& p) {
  const long long limit = integer(p, "uses");
  const std::string count = p.contains("uses_count") ? field(p, "uses_count") + "/" : "";
  return count + (limit == 0 ? "unlimited" : std::to_string(limit));
}

long long whole(const Options& o, const char* key, long long lo, long long hi) {
  const std::string v = *o.get(key);
  try {
    size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size() && n >= lo && n <= hi) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(std::string("--") + key + " expects a whole number from " + std::to_string(lo) +
                   " to " + std::to_string(hi) + ", got " + v);
}

std::string one_arg(const Options& o, const char* what) {
  if (o.words.size() != 3)
    throw UsageError(std::string("permits ") + o.words[1] + " takes one argument: " + what);
  return o.words[2];
}

int list(const AdminClient& client, const Options& o) {
  const AdminResponse r = client.request("GET", "/permits");
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("issued") || !j.contains("held") || !j["issued"].is_array() ||
      !j["held"].is_array()) {
    std::cerr << "ptpctl: unexpected answer of GET /permits\n";
    return kExitFailed;
  }
  auto rows_of = [](const Json& list, const char* who) {
    std::vector<std::vector<std::string>> rows;
    for (const Json& p : list) {
      if (!p.is_object()) continue;
      std::string state = utc_time(integer(p, "not_after")).substr(0, 16);
      if (p.contains("revoked") && p["revoked"].is_boolean() && p["revoked"].get<bool>())
        state = "revoked";
      rows.push_back({field(p, "id"), field(p, who), field(p, "type"), field(p, "resource"),
                      field(p, "level"), uses_text(p), state});
    }
    return rows;
  };
  // 32+8+10+18+3+13+16 + 6 separators = 106 columns: the id is what the operator copies.
  std::cout << "issued by this node:\n"
            << table({{"ID", 32},
                      {"GRANTEE", 8},
                      {"TYPE", 10},
                      {"RESOURCE", 18},
                      {"LVL", 3},
                      {"USES", 13},
                      {"UNTIL", 16}},
                     rows_of(j["issued"], "grantee"))
            << "held by this node:\n"
            << table({{"ID", 32},
                      {"HOLDER", 8},
                      {"TYPE", 10},
                      {"RESOURCE", 18},
                      {"LVL", 3},
                      {"USES", 13},
                      {"UNTIL", 16}},
                     rows_of(j["held"], "holder"));
  return kExitOk;
}

int issue(const AdminClient& client, const Options& o) {
  const std::string grantee = one_arg(o, "the grantee's node id");
  if (!o.get("type") || !o.get("resource"))
    throw UsageError("permits issue needs --type and --resource");
  Json body = {{"grantee", grantee}, {"type", *o.get("type")}, {"resource", *o.get("resource")}};
  if (o.get("grantee-inst")) body["grantee_inst"] = *o.get("grantee-inst");
  if (o.get("level")) body["level"] = whole(o, "level", 1, 9);
  if (o.get("valid") && o.get("not-after"))
    throw UsageError("permits issue: give --valid or --not-after, not both");
  if (o.get("valid")) body["valid_s"] = whole(o, "valid", 1, 10ll * 366 * 86400);
  if (o.get("not-after")) body["not_after"] = whole(o, "not-after", 0, 1ll << 40);
  if (o.get("uses")) body["uses"] = whole(o, "uses", 0, 1ll << 40);
  const AdminResponse r = client.request("POST", "/permits", body.dump());
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const Json j = Json::parse(r.body, nullptr, false);
  const std::string permit = j.is_object() ? field(j, "permit") : "-";
  if (permit == "-") {
    std::cerr << "ptpctl: the answer carries no permit\n";
    return kExitFailed;
  }
  // The permit alone on stdout (for scripts); the explanation on stderr.
  std::cerr << "permit " << field(j, "id") << " for " << grantee << ": " << field(j, "type") << " '"
            << field(j, "resource") << "', level " << field(j, "level") << ", uses " << uses_text(j)
            << ", valid until " << utc_time(integer(j, "not_after")) << "; give it to " << grantee
            << "'s operator for: ptpctl permits add <permit>\n";
  std::cout << permit << "\n";
  return kExitOk;
}

}  // namespace

int run_permits(const Options& o) {
  if (o.words.size() < 2)
    throw UsageError("permits needs a subcommand: issue|list|revoke|add|remove");
  const std::string& sub = o.words[1];
  const std::vector<std::string> allowed =
      sub == "issue" ? std::vector<std::string>{"type",      "resource", "level",       "valid",
                                                "not-after", "uses",     "grantee-inst"}
                     : std::vector<std::string>{};
  if (auto k = o.unknown(allowed)) throw UsageError("permits " + sub + ": unknown option --" + *k);
  const AdminClient client(o);
  if (sub == "list") {
    if (o.words.size() != 2) throw UsageError("permits list takes no arguments");
    return list(client, o);
  }
  if (sub == "issue") return issue(client, o);
  AdminResponse r;
  std::string done;
  if (sub == "add") {
    const std::string permit = one_arg(o, "the permit (ptpp1...)");
    r = client.request("POST", "/permits/held", Json{{"permit", permit}}.dump());
    if (r.ok()) {
      const Json j = Json::parse(r.body, nullptr, false);
      done = "added permit " + (j.is_object() ? field(j, "id") : "-") + " of node " +
             (j.is_object() ? field(j, "holder") : "-") +
             (j.is_object() && j.value("verified", false)
                  ? " (signature checked with its pinned root)"
                  : " (its holder's root is not pinned here: not checked)");
    }
  } else if (sub == "revoke" || sub == "remove") {
    const std::string id = one_arg(o, "the permit id");
    r = client.request("DELETE", "/permits/" + path_segment(id), "");
    done = (sub == "revoke" ? "revoked permit " : "removed permit ") + id;
  } else {
    throw UsageError("unknown permits subcommand " + sub + " (issue|list|revoke|add|remove)");
  }
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  std::cout << done << "\n";
  return kExitOk;
}

}  // namespace ptp::ptpctl
