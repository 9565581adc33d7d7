// HTTP conventions shared by the HTTP/1.1 and HTTP/2 listeners and clients: which path is
// which PTP interface, and how a Response (status, header, error) appears on HTTP.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/interface.h"
#include "codecs/status.h"
#include "gateway/exchange.h"

namespace ptp {

// The response header carrying the PTP code ("E0000000403") and, on errors, its message.
inline constexpr std::string_view kPtpCodeHeader = "x-ptp-code";
inline constexpr std::string_view kPtpMessageHeader = "x-ptp-message";
inline constexpr std::string_view kPtpHopHeader = "x-ptp-hop";  // node id where it arose
inline constexpr size_t kMaxMessageHeaderChars = 512;

// "/v1/interconn/chan/invoke" etc.; a query string is ignored. nullopt for any other path.
std::optional<Interface> interface_for_path(std::string_view target);
// The path of an interface: "/v1/interconn/chan/<name>".
std::string interface_path(Interface i);

// Replaces CR, LF and other control characters by spaces and truncates to max_chars, so
// the text is safe as an HTTP header value.
std::string sanitize_header_value(std::string_view v, size_t max_chars = kMaxMessageHeaderChars);

// x-ptp-code always, x-ptp-message (and x-ptp-hop when known) when not OK, the trace and session id
// of r.env, then r.extra_headers. Names are lower-case (valid on HTTP/1.1 and HTTP/2 alike).
HeaderList response_headers(const Response& r);

// {"code":"E0000000403","message":"...","hop":"B"}
std::string error_body_json(const Status& s);

// 200 when r.env.status is OK, otherwise http_status(code).
int response_http_status(const Response& r);

// The reverse direction, for clients: the outcome an HTTP response reports. An x-ptp-code
// header wins (with x-ptp-message and x-ptp-hop); otherwise 2xx is OK and other statuses map to the
// nearest PTP code. `headers` names are compared case-insensitively.
Status status_from_http(int http_status, const HeaderList& headers);

}  // namespace ptp
