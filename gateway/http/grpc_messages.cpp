#include "gateway/http/grpc_messages.h"

#include <charconv>

#include "codecs/ptp.pb.h"

namespace ptp {
namespace {

bool is_response_meta_skipped(std::string_view k) {
  return k.starts_with(':') || k == "content-type" || k == "content-length" ||
         k.starts_with("grpc-") || k == "x-ptp-code" || k == "x-ptp-message" || k == "x-ptp-hop" ||
         k == "date" || k == "server" || k == "connection" || k == "keep-alive" ||
         k == "transfer-encoding" || k == "te";
}

Code code_from_grpc(int g) {
  switch (g) {
    case 3:
      return Code::kBadRequest;
    case 4:
      return Code::kTimeout;
    case 5:
      return Code::kNotFound;
    case 7:
      return Code::kForbidden;
    case 8:
      return Code::kTooLarge;
    case 12:
      return Code::kIncompatible;
    case 13:
      return Code::kSystemError;
    case 14:
      return Code::kUnreachable;
    case 16:
      return Code::kForbidden;
    default:
      return Code::kUnknown;
  }
}

}  // namespace

std::string grpc_percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string grpc_percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned v = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

HeaderList grpc_status_trailers(const Status& st, GrpcErrors style) {
  const bool as_status = style == GrpcErrors::kStatus;
  HeaderList t{{"grpc-status", std::to_string(as_status ? grpc_status(st.code) : 0)}};
  if (!st.ok()) {
    if (as_status) t.emplace_back("grpc-message", grpc_percent_encode(st.to_string()));
    t.emplace_back("x-ptp-message", grpc_percent_encode(st.message));
    if (!st.hop.empty()) t.emplace_back("x-ptp-hop", st.hop);
  }
  t.emplace_back("x-ptp-code", code_string(st.code));
  return t;
}

std::string outbound_message(const Response& r) {
  org::ppc::ptp::Outbound out;
  const Status& st = r.env.status;
  out.set_code(code_string(st.code));
  out.set_message(st.ok() || !st.message.empty() ? st.message : std::string(describe(st.code)));
  out.set_payload(r.env.body);
  auto& md = *out.mutable_metadata();
  for (const auto& [k, v] : r.extra_headers) md[k] = v;
  if (!st.ok() && !st.hop.empty()) md["x-ptp-hop"] = st.hop;
  if (!r.env.header.trace_id.empty()) md["x-ptp-trace-id"] = r.env.header.trace_id;
  if (!r.env.header.session_id.empty()) md["x-ptp-session-id"] = r.env.header.session_id;
  return out.SerializeAsString();
}

Status parse_outbound_message(std::string_view bytes, Response& out) {
  org::ppc::ptp::Outbound msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Status::Error(Code::kCodecError, "malformed Outbound protobuf from upstream");
  Code c = Code::kOk;
  if (!msg.code().empty() && !parse_code(msg.code(), c)) {
    c = Code::kUnknown;
    out.env.status = Status::Error(c, "upstream code " + msg.code() + ": " + msg.message());
  } else if (c != Code::kOk) {
    out.env.status = Status::Error(c, msg.message());
  }
  if (!out.env.status.ok())
    if (auto hop = msg.metadata().find("x-ptp-hop"); hop != msg.metadata().end())
      out.env.status.hop = hop->second;
  out.env.body = std::move(*msg.mutable_payload());
  for (const auto& [k, v] : msg.metadata())
    if (!is_response_meta_skipped(k)) out.extra_headers.emplace_back(k, v);
  return Status::Ok();
}

Status status_from_grpc_trailers(const HeaderList& trailers, std::string_view peer) {
  auto gs = find_header(trailers, "grpc-status");
  int g = -1;
  if (gs.empty() || std::from_chars(gs.data(), gs.data() + gs.size(), g).ec != std::errc{})
    return Status::Error(Code::kCodecError,
                         "gRPC response from " + std::string(peer) + " has no grpc-status");
  if (g == 0) return Status::Ok();
  Status st;
  auto pc = find_header(trailers, "x-ptp-code");
  if (pc.empty() || !parse_code(pc, st.code)) st.code = code_from_grpc(g);
  auto pm = find_header(trailers, "x-ptp-message");
  st.message = grpc_percent_decode(pm.empty() ? find_header(trailers, "grpc-message") : pm);
  st.hop = std::string(find_header(trailers, "x-ptp-hop"));
  if (st.code == Code::kOk) st.code = Code::kUnknown;
  return st;
}

void merge_envelope(Envelope& into, Envelope&& from) {
  auto fill = [](std::string& a, std::string& b) {
    if (a.empty()) a = std::move(b);
  };
  auto& h = into.header;
  auto& f = from.header;
  fill(h.version, f.version);
  fill(h.tech_provider_code, f.tech_provider_code);
  fill(h.trace_id, f.trace_id);
  fill(h.token, f.token);
  fill(h.uri, f.uri);
  fill(h.session_id, f.session_id);
  fill(h.source_node_id, f.source_node_id);
  fill(h.target_node_id, f.target_node_id);
  fill(h.source_inst_id, f.source_inst_id);
  fill(h.target_inst_id, f.target_inst_id);
  for (auto& [k, v] : from.meta) into.meta.try_emplace(k, std::move(v));
  into.body = std::move(from.body);
}

}  // namespace ptp
