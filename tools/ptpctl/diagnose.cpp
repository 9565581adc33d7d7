// ptpctl diagnose NODE (docs/ptpctl.md "diagnose"): hop by hop along the route to NODE,
// each hop probed by the node it starts from (POST /diagnose/hop at this gateway, which
// asks the other nodes in-band); a table naming the failing hop and why.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/human_bytes.h"
#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;
constexpr size_t kMaxHops = 16;

std::string str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

bool has_number(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number();
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string ms_cell(const Json& j, const char* key) {
  if (!has_number(j, key)) return "-";
  const double ms = j[key].get<double>();
  return fixed(ms, ms < 1 ? 2 : 1) + "ms";
}

std::vector<std::string> row(const Json& h) {
  const std::string kind = str(h, "kind");
  const std::string to = kind == "service" ? "svc" : str(h, "to");
  std::string tls = "-", auth = "-", idle = "-";
  if (h.contains("tls") && h["tls"].is_object())
    tls = !h["tls"].value("used", false)      ? "no"
          : h["tls"].value("verified", false) ? "ok"
          : h["tls"].contains("error")        ? "fail"
                                              : "unver";
  if (h.contains("auth") && h["auth"].is_object())
    auth = h["auth"].value("ok", false) ? "ok" : "fail";
  if (h.contains("idle") && h["idle"].is_object()) {
    const Json& i = h["idle"];
    idle = i["survived"].is_boolean() ? (i["survived"].get<bool>() ? "ok" : "cut") : "n/a";
  }
  std::string largest =
      has_number(h, "largest_body") ? human_bytes(h["largest_body"].get<uint64_t>()) : "-";
  std::string verdict = h.value("ok", false) ? "ok" : "FAIL " + str(h, "failure");
  return {str(h, "from") + " -> " + to,
          str(h, "address"),
          ms_cell(h, "connect_ms"),
          tls,
          auth,
          ms_cell(h, "rtt_ms"),
          has_number(h, "throughput_mbps") ? fixed(h["throughput_mbps"].get<double>(), 0) : "-",
          largest,
          idle,
          verdict};
}

// `text` in lines of at most `width` columns, broken at spaces; continuation lines indented.
std::string wrapped(const std::string& text, size_t width) {
  std::string out, line;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = "  ";
    }
    line += (line.empty() || line == "  " ? "" : " ") + word;
  }
  return out + line + "\n";
}

}  // namespace

int run_diagnose(const Options& o) {
  if (o.words.size() != 2) throw UsageError("diagnose takes one argument: the node");
  if (auto k = o.unknown({"uri", "max-body", "idle"}))
    throw UsageError("diagnose: unknown option --" + *k);
  Json ask = {{"node", o.words[1]}, {"from", ""}, {"uri", o.get("uri").value_or("")}};
  try {
    if (auto m = o.get("max-body")) ask["max_body"] = std::stoull(*m);
    ask["idle_s"] = std::stoi(o.get("idle").value_or("3"));
  } catch (const std::exception&) {
    throw UsageError("diagnose: --max-body and --idle take numbers");
  }
  const AdminClient client(o);
  Json hops = Json::array();
  Json failing = nullptr;
  std::string next;  // the node the next hop starts from ("" : this node)
  for (size_t i = 0; i < kMaxHops; ++i) {
    ask["from"] = next;
    const auto start = std::chrono::steady_clock::now();
    std::cerr << "probing the hop from " << (next.empty() ? "this node" : next) << " ..."
              << std::flush;
    const AdminResponse r = client.request("POST", "/diagnose/hop", ask.dump());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r.ok()) {
      std::cerr << "\n";
      if (o.json) return pass_through(r);
      return report_failure(r);
    }
    Json h = Json::parse(r.body, nullptr, false);
    if (!h.is_object()) {
      std::cerr << "\nptpctl: unexpected answer of POST /diagnose/hop\n";
      return kExitFailed;
    }
    std::cerr << " " << str(h, "from") << " -> " << str(h, "to") << ": "
              << (h.value("ok", false) ? "ok" : "FAILED (" + str(h, "failure") + ")") << " ("
              << fixed(secs, 1) << " s)\n";
    next = str(h, "next");
    // A hop back to a node already probed from: the routes loop (each hop alone is fine).
    bool loop = false;
    for (const Json& earlier : hops) loop = loop || (!next.empty() && str(earlier, "from") == next);
    if (loop && h.value("ok", false)) {
      h["ok"] = false;
      h["failure"] = "route";
      h["reason"] = "routing loop: " + str(h, "from") + " sends traffic for " + o.words[1] +
                    " back to " + next;
    }
    hops.push_back(h);
    if (!h.value("ok", false)) {
      failing = hops.size() - 1;
      break;
    }
    if (next.empty()) break;
  }
  const bool ok = failing.is_null();
  if (o.json) {
    std::cout << Json{{"node", o.words[1]}, {"hops", hops}, {"failing_hop", failing}}.dump()
              << "\n";
    return ok ? kExitOk : kExitFailed;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Json& h : hops) rows.push_back(row(h));
  if (!ok && !str(hops.back(), "next").empty())
    rows.push_back(
        {str(hops.back(), "next") + " -> ...", "", "", "", "", "", "", "", "", "not reached"});
  std::cout << table({{"HOP", 14},
                      {"ADDRESS", 21},
                      {"CONNECT", 8},
                      {"TLS", 5},
                      {"AUTH", 4},
                      {"RTT", 8},
                      {"MB/S", 5},
                      {"LARGEST", 9},
                      {"IDLE", 4},
                      {"VERDICT", 12}},
                     rows);
  if (ok) {
    std::cout << "all hops ok\n";
    return kExitOk;
  }
  const Json& f = hops.back();
  std::cout << wrapped(
      "failing hop: " + str(f, "from") + " -> " + str(f, "to") + ": " + str(f, "reason"), 100);
  return kExitFailed;
}

}  // namespace ptp::ptpctl
