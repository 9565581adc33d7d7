#include "gateway/diagnose/hop_query.h"

#include <nlohmann/json.hpp>

#include "codecs/validate.h"

namespace ptp {

Status parse_hop_query(std::string_view json, HopQuery& out) {
  using Json = nlohmann::json;
  const Json j = Json::parse(json, nullptr, false);
  auto bad = [](const std::string& why) {
    return Status::Error(Code::kBadRequest, "diagnose: " + why);
  };
  if (!j.is_object()) return bad("the body must be a JSON object");
  auto text = [&](const char* key, std::string& field) {
    if (!j.contains(key) || j[key].is_null()) return true;
    if (!j[key].is_string()) return false;
    field = j[key].get<std::string>();
    return true;
  };
  if (!text("node", out.node) || !is_valid_id(out.node)) return bad("\"node\" must be a node id");
  if (!text("from", out.from) || (!out.from.empty() && !is_valid_id(out.from)))
    return bad("\"from\" must be a node id or empty");
  if (!text("uri", out.uri) || out.uri.size() > 1024) return bad("\"uri\" must be a string");
  if (j.contains("max_body") && !j["max_body"].is_null()) {
    if (!j["max_body"].is_number_unsigned() || j["max_body"].get<uint64_t>() > (1ull << 40))
      return bad("\"max_body\" must be a byte count (at most 2^40)");
    out.max_body = j["max_body"].get<uint64_t>();
  }
  if (j.contains("idle_s") && !j["idle_s"].is_null()) {
    if (!j["idle_s"].is_number_integer() || j["idle_s"].get<int64_t>() < 0 ||
        j["idle_s"].get<int64_t>() > kMaxIdleS)
      return bad("\"idle_s\" must be 0 to " + std::to_string(kMaxIdleS) + " seconds");
    out.idle_s = j["idle_s"].get<int>();
  }
  return Status::Ok();
}

std::string hop_query_body(const HopQuery& q) {
  return nlohmann::json{
      {"node", q.node}, {"uri", q.uri}, {"max_body", q.max_body}, {"idle_s", q.idle_s}}
      .dump();
}

}  // namespace ptp
