#include "gateway/http1_request_writer.h"

#include <boost/beast/core/string.hpp>
#include <charconv>

namespace ptp::http1 {
namespace {

bool managed_header(std::string_view name) {
  for (std::string_view m :
       {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade"})
    if (boost::beast::iequals(name, m)) return true;
  return false;
}

// RFC 9110 tchar.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool has_ctl_break(std::string_view s) { return s.find_first_of({"\r\n\0", 3}) != s.npos; }

}  // namespace

bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        const HeaderList& headers, size_t body_size, std::string& why) {
  if (path.empty()) path = "/";
  if (has_ctl_break(path) || path.find(' ') != path.npos) {
    why = "request path contains a space, CR, LF or NUL";
    return false;
  }
  size_t size = path.size() + authority.size() + 96;
  for (const auto& [n, v] : headers) size += n.size() + v.size() + 4;
  out.reserve(out.size() + size);
  out.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(authority).append("\r\n");
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    if (!is_token(name) || has_ctl_break(value)) {
      why = "header " + (is_token(name) ? name : std::string("name")) +
            " contains characters not allowed in HTTP/1.1";
      return false;
    }
    if (managed_header(name)) continue;
    has_type = has_type || boost::beast::iequals(name, "content-type");
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_type) out.append("Content-Type: application/octet-stream\r\n");
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, body_size);
  out.append("Content-Length: ").append(digits, end).append("\r\n\r\n");
  return true;
}

}  // namespace ptp::http1
