#include "gateway/http1_request_writer.h"

#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/container/small_vector.hpp>
#include <charconv>

namespace ptp::http1 {
namespace {

// Headers this client sets itself (or that must not pass a hop); by length first, as
// this runs for every header of every request.
bool managed_header(std::string_view name) {
  using boost::beast::iequals;
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 4:
      return iequals(name, "host");
    case 7:
      return iequals(name, "upgrade");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 14:
      return iequals(name, "content-length");
    case 17:
      return iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

// RFC 9110 tchar.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  return true;
}

bool has_ctl_break(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

}  // namespace

bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        std::span<const HeaderView> headers, size_t body_size, std::string& why) {
  if (path.empty()) path = "/";
  if (has_ctl_break(path) || path.find(' ') != path.npos) {
    why = "request path contains a space, CR, LF or NUL";
    return false;
  }
  size_t size = path.size() + authority.size() + 96;
  for (const auto& h : headers) size += h.prefix.size() + h.name.size() + h.value.size() + 4;
  out.reserve(out.size() + size);
  out.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(authority).append("\r\n");
  bool has_type = false;
  for (const auto& h : headers) {
    const bool name_ok = (h.prefix.empty() || is_token(h.prefix)) && is_token(h.name);
    if (!name_ok || has_ctl_break(h.value)) {
      why = name_ok ? "header " + std::string(h.prefix).append(h.name) : std::string("header name");
      why += " contains characters not allowed in HTTP/1.1";
      return false;
    }
    if (h.prefix.empty()) {
      if (managed_header(h.name)) continue;
      has_type = has_type || (h.name.size() == 12 && boost::beast::iequals(h.name, "content-type"));
    }
    out.append(h.prefix).append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!has_type) out.append("Content-Type: application/octet-stream\r\n");
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, body_size);
  out.append("Content-Length: ").append(digits, end).append("\r\n\r\n");
  return true;
}

bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        const HeaderList& headers, size_t body_size, std::string& why) {
  boost::container::small_vector<HeaderView, 24> views;
  for (const auto& [name, value] : headers) views.push_back({{}, name, value});
  return write_request_head(out, path, authority, std::span(views.data(), views.size()), body_size,
                            why);
}

}  // namespace ptp::http1
