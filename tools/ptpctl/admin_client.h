// A small blocking HTTP/1.1 client for the gateway's admin port (one request per
// connection), with the operator's bearer token on every request when one is known.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tools/ptpctl/options.h"

namespace ptp::ptpctl {

// The admin port could not be reached (connect, send or receive failed).
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct AdminResponse {
  unsigned status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

class AdminClient {
 public:
  // --admin host:port, else 127.0.0.1 and admin.port of --config, else 127.0.0.1:9400.
  // The token: --credential-file, else admin.credential_file of --config, else none.
  // TLS when --config has admin.tls or --ca/--cert is given: the server is verified with
  // --ca (else the system's CAs) and its name; --cert/--key: the operator's client
  // certificate (admin.tls.client_ca), the credential without a token.
  // Throws UsageError on a bad --admin or an unreadable credential file.
  explicit AdminClient(const Options& o);

  // method "GET", "POST" or "DELETE"; body JSON (empty: none). Throws Unreachable.
  AdminResponse request(const std::string& method, const std::string& target,
                        const std::string& body = "") const;

  std::string address() const { return host_ + ":" + std::to_string(port_); }

 private:
  std::string host_ = "127.0.0.1";
  uint16_t port_ = 9400;
  std::string token_;
  bool tls_ = false;
  std::string ca_file_, cert_file_, key_file_;
};

// "E0000000403 operator credential does not match (HTTP 403)" from a JSON error body
// ({"code","message"}), else the body's first line.
std::string error_text(const AdminResponse& r);

// Percent-encodes a path segment (a node id).
std::string path_segment(const std::string& s);

// "?a=1&b=x" from the pairs whose value is not empty (values percent-encoded).
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace ptp::ptpctl
