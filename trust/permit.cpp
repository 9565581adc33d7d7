#include "trust/permit.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "codecs/json_depth.h"

namespace ptp {
namespace {

constexpr std::array<std::string_view, 8> kTypes{"service", "topic",   "router_job", "dataset",
                                                 "model",   "project", "job",        "task"};
constexpr size_t kMaxFieldLength = 256;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool bad_name(std::string_view s) {
  return s.empty() || s.size() > kMaxFieldLength ||
         std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// Reads member `key` into `out` when it has the expected JSON type; false otherwise.
bool read(const nlohmann::json& o, const char* key, std::string& out) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}
template <class Int>
bool read(const nlohmann::json& o, const char* key, Int& out) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_integer()) return false;
  out = static_cast<Int>(it->get<int64_t>());
  return true;
}

}  // namespace

bool is_permit_type(std::string_view type) {
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

std::string permit_payload_json(const PermitPayload& p) {
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["id"] = p.id;
  j["holder"] = p.holder;
  j["holder_inst"] = p.holder_inst;
  j["grantee"] = p.grantee;
  j["grantee_inst"] = p.grantee_inst;
  j["type"] = p.type;
  j["resource"] = p.resource;
  j["level"] = p.level;
  j["not_before"] = p.not_before;
  j["not_after"] = p.not_after;
  j["uses"] = p.uses;
  return j.dump();
}

std::string permit_signed_text(std::string_view payload_json) {
  std::string s("ptp-permit-v1\n");
  s.append(payload_json);
  return s;
}

std::string permit_payload_error(const PermitPayload& p) {
  if (p.id.size() != 32 || !is_lower_hex(p.id)) return "id: expected 32 lower-case hex digits";
  if (bad_name(p.holder)) return "holder: expected a node id";
  if (bad_name(p.grantee)) return "grantee: expected a node id";
  if (p.holder_inst.size() > kMaxFieldLength || p.grantee_inst.size() > kMaxFieldLength)
    return "holder_inst/grantee_inst: too long";
  if (!is_permit_type(p.type))
    return "type: expected one of service, topic, router_job, dataset, model, project, job, task";
  if (bad_name(p.resource)) return "resource: expected an id or a glob";
  if (p.level < 1 || p.level > 9) return "level: expected 1 to 9";
  if (p.not_before < 0 || p.not_after < p.not_before)
    return "not_before/not_after: expected 0 <= not_before <= not_after";
  if (p.uses < 0) return "uses: expected 0 (unlimited) or more";
  return {};
}

std::optional<Permit> issue_permit(const NodeKey& holder_key, const PermitPayload& p,
                                   std::string& error) {
  error = permit_payload_error(p);
  if (!error.empty()) return std::nullopt;
  Permit out;
  out.payload = p;
  out.payload_json = permit_payload_json(p);
  out.signature = holder_key.sign(permit_signed_text(out.payload_json));
  if (out.signature.empty()) {
    error = "signing the permit failed";
    return std::nullopt;
  }
  out.text.assign(kPermitPrefix)
      .append(base64url_encode(out.payload_json))
      .append(".")
      .append(base64url_encode(out.signature));
  return out;
}

std::optional<Permit> parse_permit(std::string_view text, std::string& error) {
  if (text.size() > kMaxPermitText) {
    error = "permit longer than " + std::to_string(kMaxPermitText) + " characters";
    return std::nullopt;
  }
  if (!text.starts_with(kPermitPrefix)) {
    error = "not a permit (expected ptpp1.<payload>.<signature>)";
    return std::nullopt;
  }
  std::string_view rest = text.substr(kPermitPrefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) {
    error = "malformed permit (expected ptpp1.<payload>.<signature>)";
    return std::nullopt;
  }
  auto payload = base64url_decode(rest.substr(0, dot));
  auto sig = base64url_decode(rest.substr(dot + 1));
  if (!payload || !sig || sig->empty()) {
    error = "malformed permit (its parts are not base64url)";
    return std::nullopt;
  }
  if (!json_depth_within(*payload, 2)) {
    error = "malformed permit payload (nested too deep)";
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(*payload, nullptr, false);
  Permit out;
  PermitPayload& p = out.payload;
  int64_t v = 0, level = 0;
  if (j.is_discarded() || !j.is_object() || !read(j, "v", v) || v != 1 || !read(j, "id", p.id) ||
      !read(j, "holder", p.holder) || !read(j, "holder_inst", p.holder_inst) ||
      !read(j, "grantee", p.grantee) || !read(j, "grantee_inst", p.grantee_inst) ||
      !read(j, "type", p.type) || !read(j, "resource", p.resource) || !read(j, "level", level) ||
      !read(j, "not_before", p.not_before) || !read(j, "not_after", p.not_after) ||
      !read(j, "uses", p.uses)) {
    error = "malformed permit payload (a member is missing or of the wrong type, or v is not 1)";
    return std::nullopt;
  }
  p.level = level < 1 || level > 9 ? 0 : static_cast<int>(level);
  if (std::string why = permit_payload_error(p); !why.empty()) {
    error = "malformed permit payload: " + why;
    return std::nullopt;
  }
  out.payload_json = std::move(*payload);
  out.signature = std::move(*sig);
  out.text = std::string(text);
  return out;
}

bool verify_permit(const PublicKey& holder_key, const Permit& p) {
  return holder_key.verify(permit_signed_text(p.payload_json), p.signature);
}

}  // namespace ptp
