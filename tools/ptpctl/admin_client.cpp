#include "tools/ptpctl/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/ptpctl/gateway_config.h"

namespace ptp::ptpctl {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(60);  // a join waits for the peer's answer
constexpr uint64_t kMaxAnswer = 16 * 1024 * 1024;

std::string trim(std::string s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

std::string read_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read the credential file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = trim(text.str());
  if (token.empty()) throw UsageError("the credential file " + path + " is empty");
  return token;
}

uint16_t parse_port(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    const unsigned long v = std::stoul(s, &used);
    if (used == s.size() && v > 0 && v <= 65535) return static_cast<uint16_t>(v);
  } catch (const std::exception&) {
  }
  throw UsageError("bad port in " + what + ": " + s);
}

}  // namespace

AdminClient::AdminClient(const Options& o) {
  std::string credential_file;
  if (const auto g = read_gateway_config(o)) {
    if (g->admin_port) port_ = *g->admin_port;
    // The gateway binds 127.0.0.1 unless admin.address says otherwise; a wildcard address
    // is reached on loopback.
    const std::string& a = g->admin_address;
    if (!a.empty() && a != "0.0.0.0" && a != "::" && a != "[::]") host_ = a;
    if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']')
      host_ = host_.substr(1, host_.size() - 2);
    tls_ = g->admin_tls;
    credential_file = g->credential_file;
  }
  if (auto a = o.get("admin")) {
    const auto colon = a->rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw UsageError("--admin expects host:port, got " + *a);
    host_ = a->substr(0, colon);
    if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']')
      host_ = host_.substr(1, host_.size() - 2);
    port_ = parse_port(a->substr(colon + 1), "--admin");
  }
  if (auto f = o.get("credential-file")) credential_file = *f;
  ca_file_ = o.get("ca").value_or("");
  cert_file_ = o.get("cert").value_or("");
  key_file_ = o.get("key").value_or("");
  if (cert_file_.empty() != key_file_.empty()) throw UsageError("--cert and --key go together");
  if (!ca_file_.empty() || !cert_file_.empty()) tls_ = true;
  if (!credential_file.empty()) token_ = read_token(credential_file);
}

namespace {

template <class Stream>
AdminResponse exchange(Stream& stream, const std::string& host, const std::string& token,
                       const std::string& method, const std::string& target,
                       const std::string& body) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "ptpctl");
  req.keep_alive(false);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxAnswer);
  http::read(stream, buf, parser);
  return {parser.get().result_int(), parser.get().body()};
}

}  // namespace

AdminResponse AdminClient::request(const std::string& method, const std::string& target,
                                   const std::string& body) const {
  const std::string where = "the admin port " + address();
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    if (!tls_) {
      beast::tcp_stream stream(ioc);
      stream.expires_after(kTimeout);
      stream.connect(resolver.resolve(host_, std::to_string(port_)));
      AdminResponse r = exchange(stream, host_, token_, method, target, body);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return r;
    }
    net::ssl::context ctx(net::ssl::context::tls_client);
    try {
      ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_tlsv1 |
                      net::ssl::context::no_tlsv1_1);
      if (ca_file_.empty())
        ctx.set_default_verify_paths();
      else
        ctx.load_verify_file(ca_file_);
      if (!cert_file_.empty()) {
        ctx.use_certificate_chain_file(cert_file_);
        ctx.use_private_key_file(key_file_, net::ssl::context::pem);
      }
      ctx.set_verify_mode(net::ssl::verify_peer);
      ctx.set_verify_callback(net::ssl::host_name_verification(host_));
    } catch (const boost::system::system_error& e) {
      throw UsageError("TLS files (--ca, --cert, --key): " + e.code().message());
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    boost::system::error_code ec;
    net::ip::make_address(host_, ec);
    if (ec) SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str());  // SNI: names only
    beast::get_lowest_layer(stream).expires_after(kTimeout);
    beast::get_lowest_layer(stream).connect(resolver.resolve(host_, std::to_string(port_)));
    stream.handshake(net::ssl::stream_base::client);
    AdminResponse r = exchange(stream, host_, token_, method, target, body);
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    return r;
  } catch (const boost::system::system_error& e) {
    if (e.code() == beast::error::timeout)
      throw Unreachable(where + " did not answer within " + std::to_string(kTimeout.count()) +
                        " s");
    throw Unreachable("cannot reach " + where + ": " + e.code().message());
  }
}

std::string error_text(const AdminResponse& r) {
  const std::string http = " (HTTP " + std::to_string(r.status) + ")";
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    std::string code =
        j.contains("code") && j["code"].is_string() ? j["code"].get<std::string>() : "";
    return (code.empty() ? "" : code + " ") + j["message"].get<std::string>() + http;
  }
  if (j.is_object() && j.contains("error") && j["error"].is_string())
    return j["error"].get<std::string>() + http;
  std::string line = trim(r.body.substr(0, r.body.find('\n')));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return (line.empty() ? std::string("no answer body") : line) + http;
}

std::string path_segment(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    out += (out.empty() ? "?" : "&") + k + "=" + path_segment(v);
  }
  return out;
}

}  // namespace ptp::ptpctl
