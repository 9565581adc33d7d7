#include "gateway/http/http_mapping.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "codecs/header_codec.h"
#include "gateway/observability/json_log.h"

namespace ptp {
namespace {

constexpr std::string_view kChanPrefix = "/v1/interconn/chan/";
constexpr std::string_view kNetPrefix = "/v1/interconn/net/";

constexpr std::array kInterfaces{Interface::kInvoke, Interface::kTransport, Interface::kPush,
                                 Interface::kPop,    Interface::kPeek,      Interface::kRelease};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto la = static_cast<unsigned char>(a[i]), lb = static_cast<unsigned char>(b[i]);
    if (la >= 'A' && la <= 'Z') la += 'a' - 'A';
    if (lb >= 'A' && lb <= 'Z') lb += 'a' - 'A';
    if (la != lb) return false;
  }
  return true;
}

}  // namespace

std::optional<Interface> interface_for_path(std::string_view target) {
  // Not find_first_of: it runs a memchr over "?#" for every character of the path.
  auto query =
      std::find_if(target.begin(), target.end(), [](char c) { return c == '?' || c == '#'; });
  target = target.substr(0, static_cast<size_t>(query - target.begin()));
  if (target.starts_with(kNetPrefix)) {
    target.remove_prefix(kNetPrefix.size());
    if (target == interface_name(Interface::kWeave)) return Interface::kWeave;
    if (target == interface_name(Interface::kAck)) return Interface::kAck;
    return std::nullopt;
  }
  if (!target.starts_with(kChanPrefix)) return std::nullopt;
  target.remove_prefix(kChanPrefix.size());
  for (Interface i : kInterfaces)
    if (target == interface_name(i)) return i;
  return std::nullopt;
}

std::string interface_path(Interface i) {
  if (is_peering_interface(i)) return std::string(kNetPrefix) + std::string(interface_name(i));
  return std::string(kChanPrefix) + std::string(interface_name(i));
}

std::string sanitize_header_value(std::string_view v, size_t max_chars) {
  std::string out(v.substr(0, max_chars));
  for (char& ch : out) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) ch = ' ';
  }
  // Leading or trailing whitespace is not preserved by HTTP parsers; trim it ourselves.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  size_t lead = out.find_first_not_of(' ');
  out.erase(0, lead == std::string::npos ? out.size() : lead);
  return out;
}

HeaderList response_headers(const Response& r) {
  HeaderList out;
  out.reserve(5 + r.extra_headers.size());
  ResponseHeaderScratch scratch;
  for_each_response_header(r, scratch, [&](std::string_view name, std::string_view value, bool) {
    out.emplace_back(name, value);
  });
  return out;
}

std::string error_body_json(const Status& s) {
  std::string out = "{\"code\":";
  append_json_string(out, code_string(s.code));
  out += ",\"message\":";
  append_json_string(out, s.message.empty() ? std::string(describe(s.code)) : s.message);
  out += ",\"hop\":";
  append_json_string(out, s.hop);
  out += '}';
  return out;
}

int response_http_status(const Response& r) {
  if (r.http_status) return r.http_status;
  return r.env.status.ok() ? 200 : http_status(r.env.status.code);
}

Status status_from_http(int status, const HeaderList& headers) {
  std::optional<std::string_view> code_value;
  std::string_view message, hop;
  for (const auto& [name, value] : headers) {
    if (iequals(name, kPtpCodeHeader)) code_value = value;
    if (iequals(name, kPtpMessageHeader)) message = value;
    if (iequals(name, kPtpHopHeader)) hop = value;
  }
  Code c = Code::kOk;
  if (code_value && parse_code(*code_value, c)) {
    if (c == Code::kOk) return Status::Ok();
    return Status::Error(c, std::string(message), std::string(hop));
  }
  if (status >= 200 && status < 300) return Status::Ok();
  switch (status) {
    case 400:
      c = Code::kBadRequest;
      break;
    case 401:
    case 403:
      c = Code::kForbidden;
      break;
    case 404:
      c = Code::kNotFound;
      break;
    case 413:
      c = Code::kTooLarge;
      break;
    case 408:
    case 504:
      c = Code::kTimeout;
      break;
    case 429:
      c = Code::kBufferFull;
      break;
    case 502:
      c = Code::kUnreachable;
      break;
    case 503:
      c = Code::kNoInstance;
      break;
    default:
      c = status >= 500 ? Code::kSystemError : Code::kBadRequest;
  }
  return Status::Error(c, "HTTP status " + std::to_string(status));
}

}  // namespace ptp
