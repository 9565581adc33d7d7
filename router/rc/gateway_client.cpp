#include "router/rc/gateway_client.h"

#include <openssl/crypto.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>
#include <thread>

#include "common/random_hex.h"
#include "common/token.h"
#include "common/unix_time.h"

namespace ptp::rc {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;

constexpr int64_t kTokenTtl = 300;
// Beyond the gateway's own wait: connect, send, and the gateway's answer.
constexpr milliseconds kIoSlack{30000};
constexpr uint64_t kMaxBody = 1ull << 31;

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Codes worth another attempt: the gateway or a store was busy or briefly failing.
bool transient(const std::string& code) {
  return code == "E0000000500" || code == "E0000000503" || code == "E0000000601" ||
         code == "E0000000700" || code == "E0000000520";
}

}  // namespace

GatewayUrl parse_gateway_url(std::string_view url) {
  const std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    throw std::invalid_argument("gateway url must look like http://host:port, got " +
                                std::string(url.substr(0, 80)));
  std::string_view rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string_view::npos)
    throw std::invalid_argument("gateway url must look like http://host:port, got " +
                                std::string(url.substr(0, 80)));
  GatewayUrl u{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
  if (u.host.size() > 2 && u.host.front() == '[' && u.host.back() == ']')
    u.host = u.host.substr(1, u.host.size() - 2);
  for (char c : u.port)
    if (c < '0' || c > '9')
      throw std::invalid_argument("gateway url has a bad port: " + std::string(url.substr(0, 80)));
  return u;
}

struct GatewayClient::Conn {
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

struct GatewayClient::Reply {
  std::string code;
  std::string message;
  std::string body;
  std::map<std::string, std::string> headers;
};

GatewayClient::GatewayClient(std::string url, std::string node, std::string key, MacDigest mac,
                             std::string provider_code)
    : url_(parse_gateway_url(url)),
      node_(std::move(node)),
      key_(std::move(key)),
      mac_(mac),
      provider_(std::move(provider_code)),
      conn_(std::make_unique<Conn>()) {}

GatewayClient::~GatewayClient() = default;

GatewayClient::Reply GatewayClient::call(std::string_view op, const std::string& target,
                                         const std::string& session,
                                         const std::map<std::string, std::string>& headers,
                                         std::string_view body, milliseconds wait) {
  std::string last_error;
  milliseconds backoff{100};
  for (int attempt = 1; attempt <= attempts_; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(5000));
    }
    try {
      if (!conn_->stream) {
        tcp::resolver resolver(conn_->ioc);
        auto endpoints = resolver.resolve(url_.host, url_.port);
        conn_->stream.emplace(conn_->ioc);
        conn_->stream->expires_after(std::chrono::seconds(10));
        conn_->stream->connect(endpoints);
        conn_->buffer.clear();
      }
      http::request<http::string_body> req{http::verb::post,
                                           "/v1/interconn/chan/" + std::string(op), 11};
      req.set(http::field::host, url_.host + ":" + url_.port);
      req.set(http::field::content_type, "application/octet-stream");
      req.set("x-ptp-tech-provider-code", provider_);
      req.set("x-ptp-trace-id", random_hex(16));
      req.set("x-ptp-session-id", session);
      req.set("x-ptp-source-node-id", node_);
      req.set("x-ptp-target-node-id", target);
      req.set("x-ptp-token",
              mint_token(key_, node_, target, session, unix_now() + kTokenTtl, mac_));
      for (const auto& [k, v] : headers) req.set(k, v);
      req.body() = std::string(body);
      req.keep_alive(true);
      req.prepare_payload();
      conn_->stream->expires_after(wait + kIoSlack);
      // The body may be a share: wipe this copy once it is written (or the write failed).
      struct Wipe {
        std::string& s;
        ~Wipe() {
          if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
        }
      } wipe_body{req.body()};
      http::write(*conn_->stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      parser.header_limit(1 << 20);
      http::read(*conn_->stream, conn_->buffer, parser);
      auto res = parser.release();
      Reply r;
      for (const auto& f : res)
        r.headers[lower(std::string(f.name_string()))] = std::string(f.value());
      r.code = r.headers.count("x-ptp-code") ? r.headers["x-ptp-code"] : "";
      r.message = r.headers.count("x-ptp-message") ? r.headers["x-ptp-message"] : "";
      r.body = std::move(res.body());
      if (!res.keep_alive()) conn_->stream.reset();
      if (r.code.empty())
        r.code =
            res.result_int() == 200 ? "E0000000000" : "HTTP " + std::to_string(res.result_int());
      if (r.code == "E0000000000") return r;
      last_error = r.code + (r.message.empty() ? "" : " " + r.message);
      if (!transient(r.code)) break;
    } catch (const std::exception& e) {
      conn_->stream.reset();  // reconnect on the next attempt
      last_error = e.what();
    }
  }
  throw std::runtime_error(std::string(op) + " at " + url_.host + ":" + url_.port +
                           " failed: " + last_error);
}

std::string GatewayClient::push(const std::string& target, const std::string& session,
                                const std::string& topic, std::string_view payload,
                                const std::map<std::string, std::string>& meta) {
  std::map<std::string, std::string> h;
  for (const auto& [k, v] : meta) h["x-ptp-" + k] = v;
  h["x-ptp-topic"] = topic;
  if (!h.count("x-ptp-message-id")) h["x-ptp-message-id"] = random_hex(16);
  const std::string id = h["x-ptp-message-id"];
  call("push", target, session, h, payload, milliseconds(5000));
  return id;
}

std::optional<PoppedMessage> GatewayClient::pop(const std::string& session,
                                                const std::string& topic, milliseconds timeout) {
  std::map<std::string, std::string> h{{"x-ptp-topic", topic},
                                       {"x-ptp-timeout", std::to_string(timeout.count()) + "ms"}};
  Reply r = call("pop", node_, session, h, {}, timeout);
  if (r.headers["x-ptp-queue-result"] != "message") return std::nullopt;
  return PoppedMessage{std::move(r.body), std::move(r.headers)};
}

std::optional<PoppedMessage> GatewayClient::peek(const std::string& session,
                                                 const std::string& topic) {
  Reply r = call("peek", node_, session, {{"x-ptp-topic", topic}}, {}, milliseconds(0));
  if (r.headers["x-ptp-queue-result"] != "message") return std::nullopt;
  return PoppedMessage{std::move(r.body), std::move(r.headers)};
}

void GatewayClient::release(const std::string& session, const std::string& topic) {
  std::map<std::string, std::string> h;
  if (!topic.empty()) h["x-ptp-topic"] = topic;
  call("release", node_, session, h, {}, milliseconds(5000));
}

}  // namespace ptp::rc
