// HTTP conventions shared by the HTTP/1.1 and HTTP/2 listeners and clients: which path is
// which PTP interface, and how a Response (status, header, error) appears on HTTP.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/interface.h"
#include "codecs/status.h"
#include "gateway/exchange/exchange.h"

namespace ptp {

// The response header carrying the PTP code ("E0000000403") and, on errors, its message.
inline constexpr std::string_view kPtpCodeHeader = "x-ptp-code";
inline constexpr std::string_view kPtpMessageHeader = "x-ptp-message";
inline constexpr std::string_view kPtpHopHeader = "x-ptp-hop";  // node id where it arose
inline constexpr size_t kMaxMessageHeaderChars = 512;

// "/v1/interconn/chan/invoke" etc.; a query string is ignored. nullopt for any other path.
std::optional<Interface> interface_for_path(std::string_view target);
// The path of an interface: "/v1/interconn/chan/<name>" (weave, ack: "/v1/interconn/net/<name>").
std::string interface_path(Interface i);

// Replaces CR, LF and other control characters by spaces and truncates to max_chars, so
// the text is safe as an HTTP header value.
std::string sanitize_header_value(std::string_view v, size_t max_chars = kMaxMessageHeaderChars);

// x-ptp-code always, x-ptp-message (and x-ptp-hop when known) when not OK, the trace and session id
// of r.env, then r.extra_headers. Names are lower-case (valid on HTTP/1.1 and HTTP/2 alike).
HeaderList response_headers(const Response& r);

// The values response_headers() computes rather than takes from the response.
struct ResponseHeaderScratch {
  std::string code, message, hop;
};

// The same fields as response_headers(), as views passed to f(name, value, name_is_static)
// without copying the response's strings (per-request path); they point into r and
// `scratch`, so they stay valid while both live. name_is_static: the name is a literal.
template <class F>
void for_each_response_header(const Response& r, ResponseHeaderScratch& scratch, F&& f) {
  const Status& st = r.env.status;
  scratch.code = code_string(st.code);
  f(kPtpCodeHeader, std::string_view(scratch.code), true);
  if (!st.ok()) {
    scratch.message =
        sanitize_header_value(st.message.empty() ? std::string(describe(st.code)) : st.message);
    if (!scratch.message.empty()) f(kPtpMessageHeader, std::string_view(scratch.message), true);
    scratch.hop = sanitize_header_value(st.hop);
    if (!scratch.hop.empty()) f(kPtpHopHeader, std::string_view(scratch.hop), true);
  }
  // Only the correlation ids travel back; the rest of the header belongs to the request.
  if (!r.env.header.trace_id.empty())
    f(std::string_view("x-ptp-trace-id"), std::string_view(r.env.header.trace_id), true);
  if (!r.env.header.session_id.empty())
    f(std::string_view("x-ptp-session-id"), std::string_view(r.env.header.session_id), true);
  for (const auto& [name, value] : r.extra_headers)
    f(std::string_view(name), std::string_view(value), false);
}

// {"code":"E0000000403","message":"...","hop":"B"}
std::string error_body_json(const Status& s);

// r.http_status if set; else 200 when r.env.status is OK, otherwise http_status(code).
int response_http_status(const Response& r);

// The reverse direction, for clients: the outcome an HTTP response reports. An x-ptp-code
// header wins (with x-ptp-message and x-ptp-hop); otherwise 2xx is OK and other statuses map to the
// nearest PTP code. `headers` names are compared case-insensitively.
Status status_from_http(int http_status, const HeaderList& headers);

}  // namespace ptp
