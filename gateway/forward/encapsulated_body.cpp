#include "gateway/forward/encapsulated_body.h"

#include "codecs/header_codec.h"
#include "gateway/forward/forwarder.h"
#include "gateway/http/http_mapping.h"

namespace ptp {
namespace {

constexpr std::string_view kVersionHeader = "x-ptp-version";
constexpr std::string_view kPassThrough = "1";

Status bad_request(std::string msg) { return Status::Error(Code::kBadRequest, std::move(msg)); }

}  // namespace

Status decapsulate(EncapsulatedFormat f, Envelope& env) {
  EncapsulatedMessage m;
  if (Status st = decode_encapsulated(f, EncapsulatedKind::kInbound, env.body, m); !st.ok())
    return st;
  Envelope inner;
  if (Status st = decode_headers(HeaderList(m.metadata.begin(), m.metadata.end()), inner);
      !st.ok()) {
    st.message = "encapsulated Inbound metadata: " + st.message;
    return st;
  }
  for (const auto& field : header_fields()) {
    std::string& outer = env.header.*(field.member);
    std::string& in = inner.header.*(field.member);
    if (in.empty() || field.member == &PtpHeader::version) continue;
    if (outer.empty()) {
      outer = std::move(in);
    } else if (outer != in) {
      return bad_request(
          "header " + std::string(field.name) +
          " differs between the HTTP header and the encapsulated Inbound's metadata");
    }
  }
  for (auto& [k, v] : inner.meta) env.meta.try_emplace(k, std::move(v));
  env.header.version = std::string(kPassThrough);  // from here on, as if sent pass-through
  env.body = std::move(m.payload);
  env.content_type.clear();  // the payload's own type is not known
  return Status::Ok();
}

Response encapsulate_response(Response&& r, EncapsulatedFormat f) {
  if (r.stream) return std::move(r);  // not for unary exchanges
  EncapsulatedMessage m;
  for (const auto& [k, v] : r.extra_headers) m.metadata[std::string(k)] = std::string(v);
  const Status& st = r.env.status;
  if (!r.env.header.trace_id.empty()) m.metadata["x-ptp-trace-id"] = r.env.header.trace_id;
  if (!r.env.header.session_id.empty()) m.metadata["x-ptp-session-id"] = r.env.header.session_id;
  if (!st.hop.empty()) m.metadata["x-ptp-hop"] = st.hop;
  m.code = code_string(st.code);
  m.message =
      st.ok() ? st.message : (st.message.empty() ? std::string(describe(st.code)) : st.message);
  m.payload = std::move(r.env.body);
  r.env.body = encode_encapsulated(f, EncapsulatedKind::kOutbound, m);
  // The HTTP content type is the Outbound's; the payload's travels in its metadata.
  r.extra_headers.erase_if([](const HeaderList::Field& h) { return h.first == "content-type"; });
  r.extra_headers.emplace_back("content-type", std::string(content_type_of(f)));
  r.grpc_message.reset();
  return std::move(r);
}

std::string encapsulated_request_body(const Envelope& env, EncapsulatedFormat f) {
  EncapsulatedMessage m;
  header_to_metadata(env, m.metadata);
  m.metadata.erase(std::string(kVersionHeader));
  m.payload = env.body;
  return encode_encapsulated(f, EncapsulatedKind::kInbound, m);
}

Response response_from_encapsulated_http(int http_status, HeaderList headers, std::string body,
                                         std::string_view hop_name, std::string_view hop_address) {
  const auto format = encapsulated_format(find_header(headers, "content-type"));
  EncapsulatedMessage m;
  if (!format || !decode_encapsulated(*format, EncapsulatedKind::kOutbound, body, m).ok())
    return response_from_http(http_status, std::move(headers), std::move(body), hop_name,
                              hop_address);
  Response r;
  Code code = Code::kOk;
  if (m.code.empty()) {
    r.env.status = status_from_http(http_status, headers);
  } else if (!parse_code(m.code, code)) {
    r.env.status = Status::Error(Code::kUnknown, "unknown code " + m.code.substr(0, 32) + " from " +
                                                     std::string(hop_name) + ": " + m.message);
  } else {
    r.env.status = Status{code, std::move(m.message), {}};
    if (!r.env.status.ok()) {
      auto hop = m.metadata.find("x-ptp-hop");
      r.env.status.hop = hop == m.metadata.end() ? std::string(hop_name) : hop->second;
    }
  }
  if (r.env.status.ok()) r.env.body = std::move(m.payload);
  for (auto& [k, v] : m.metadata)
    if (is_relayed_header(k)) r.extra_headers.emplace_back(k, std::move(v));
  return r;
}

}  // namespace ptp
