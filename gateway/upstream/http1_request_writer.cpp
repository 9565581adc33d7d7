#include "gateway/upstream/http1_request_writer.h"

#include <array>
#include <boost/beast/core/string.hpp>
#include <charconv>
#include <cstring>

#include "gateway/http/http_field_chars.h"

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

}  // namespace

bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        std::span<const HeaderView> headers, size_t body_size, std::string& why) {
  if (path.empty()) path = "/";
  if (!is_field_value(path) || path.find_first_of(" \t") != path.npos) {
    why = "request path contains a space or a control character";
    return false;
  }
  // The head's size is known up front: one resize, then plain copies through a cursor
  // (string appends check capacity and grow on every call; a head has ~60 pieces).
  constexpr std::string_view kDefaultType = "Content-Type: application/octet-stream\r\n";
  constexpr std::string_view kLength = "Content-Length: ";
  size_t size = path.size() + authority.size() + 32 + kDefaultType.size() + kLength.size() + 24;
  for (const auto& h : headers) size += h.prefix.size() + h.name.size() + h.value.size() + 4;
  const size_t start = out.size();
  out.resize(start + size);
  char* p = out.data() + start;
  auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // an empty view may have no data pointer, which memcpy must not get
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put("POST ");
  put(path);
  put(" HTTP/1.1\r\nHost: ");
  put(authority);
  put("\r\n");
  bool has_type = false;
  for (const auto& h : headers) {
    const bool name_ok = (h.prefix.empty() || is_token(h.prefix)) && is_token(h.name);
    if (!name_ok || !is_field_value(h.value)) {
      out.resize(start);
      why = name_ok ? "header " + std::string(h.prefix).append(h.name) : std::string("header name");
      why += " contains characters not allowed in HTTP/1.1";
      return false;
    }
    if (h.prefix.empty()) {
      if (managed_header(h.name)) continue;
      has_type = has_type || (h.name.size() == 12 && boost::beast::iequals(h.name, "content-type"));
    }
    put(h.prefix);
    put(h.name);
    put(": ");
    put(h.value);
    put("\r\n");
  }
  if (!has_type) put(kDefaultType);
  put(kLength);
  p = std::to_chars(p, p + 20, body_size).ptr;
  put("\r\n\r\n");
  out.resize(static_cast<size_t>(p - out.data()));
  return true;
}

HeaderViews header_views(const HeaderList& headers) {
  HeaderViews views;
  for (const auto& [name, value] : headers) views.push_back({{}, name, value});
  return views;
}

bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        const HeaderList& headers, size_t body_size, std::string& why) {
  const HeaderViews views = header_views(headers);
  return write_request_head(out, path, authority, std::span(views.data(), views.size()), body_size,
                            why);
}

}  // namespace ptp::http1
