#include "trust/host_port.h"

#include <charconv>

namespace ptp {
namespace {

bool only(std::string_view s, bool (*allowed)(char)) {
  for (char c : s)
    if (!allowed(c)) return false;
  return true;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool ipv6_char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

}  // namespace

bool parse_host_port(std::string_view address, std::string& host, std::string& error) {
  size_t colon = address.rfind(':');
  std::string_view h = colon == std::string_view::npos ? address : address.substr(0, colon);
  std::string_view port = colon == std::string_view::npos ? "" : address.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    if (!only(h, ipv6_char)) h = {};
  } else if (!only(h, name_char)) {
    h = {};  // a name or an IPv4 address (an IPv6 address needs brackets)
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (h.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value == 0 || value > 65535) {
    error = "address '" + std::string(address.substr(0, 128)) +
            "' is not host:port (host [A-Za-z0-9.-], IPv6 as [addr]:port, port 1-65535)";
    return false;
  }
  host = std::string(h);
  return true;
}

}  // namespace ptp
