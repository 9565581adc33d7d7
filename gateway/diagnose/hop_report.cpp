#include "gateway/diagnose/hop_report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace ptp {

const char* hop_failure_name(HopFailure f) {
  switch (f) {
    case HopFailure::kNone:
      return "";
    case HopFailure::kRoute:
      return "route";
    case HopFailure::kConnect:
      return "connect";
    case HopFailure::kTls:
      return "tls";
    case HopFailure::kAuth:
      return "auth";
    case HopFailure::kBody:
      return "body";
    case HopFailure::kIdle:
      return "idle";
    case HopFailure::kService:
      return "service";
    case HopFailure::kProbe:
      return "probe";
  }
  return "probe";
}

namespace {

// Milliseconds with 0.01 ms precision: short, and stable in JSON.
double rounded(double v) { return std::round(v * 100) / 100; }

}  // namespace

std::string hop_report_json(const HopReport& r) {
  using Json = nlohmann::json;
  Json j = {{"from", r.from},
            {"to", r.to},
            {"kind", r.kind},
            {"address", r.address},
            {"next", r.next},
            {"ok", r.ok()},
            {"failure", hop_failure_name(r.failure)},
            {"reason", r.reason}};
  if (r.max_body) j["max_body"] = r.max_body;
  if (r.connect_ms) j["connect_ms"] = rounded(*r.connect_ms);
  if (r.tls) {
    Json t = {{"used", r.tls->used}};
    if (r.tls->used) {
      t["handshake_ms"] = rounded(r.tls->handshake_ms);
      t["subject"] = r.tls->subject;
      t["issuer"] = r.tls->issuer;
      t["not_after"] = r.tls->not_after;
      t["verified"] = r.tls->verified;
      if (!r.tls->error.empty()) t["error"] = r.tls->error;
    }
    j["tls"] = std::move(t);
  }
  if (r.auth)
    j["auth"] = {{"ok", r.auth->ok}, {"code", r.auth->code}, {"message", r.auth->message}};
  if (r.rtt_ms) j["rtt_ms"] = rounded(*r.rtt_ms);
  if (r.throughput_mbps) j["throughput_mbps"] = rounded(*r.throughput_mbps);
  if (r.largest_body) j["largest_body"] = *r.largest_body;
  if (r.body_refused)
    j["body_refused"] = {{"size", r.body_refused->size},
                         {"code", r.body_refused->code},
                         {"message", r.body_refused->message}};
  if (r.idle) {
    Json i = {{"seconds", r.idle->seconds}, {"error", r.idle->error}};
    i["survived"] = r.idle->survived ? Json(*r.idle->survived) : Json(nullptr);
    j["idle"] = std::move(i);
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ptp
