#include "gateway/observability/admin_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/accept_backoff.h"
#include "gateway/observability/admin_auth.h"
#include "gateway/observability/metrics.h"

namespace ptp {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = 1024 * 1024;  // 413 beyond
constexpr auto kDefaultBodyTimeout = std::chrono::seconds(10);
// Open admin connections at most; more are closed at once (an operator needs a few).
constexpr size_t kMaxConnections = 64;

tcp::endpoint resolve(net::io_context& ioc, const Endpoint& ep) {
  std::string host = ep.host.empty() ? "127.0.0.1" : ep.host;  // loopback unless configured
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  if (!ec) return {addr, ep.port};
  tcp::resolver resolver(ioc);  // start-up only, so a blocking lookup is acceptable
  const auto results = resolver.resolve(host, std::to_string(ep.port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error("admin server: cannot resolve " + ep.to_string() + ": " +
                             (ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

bool is_http_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category();
}

struct Route {
  std::string method;
  std::string prefix;
  AdminRoute fn;
  bool credential = false;  // needs the operator credential (always when mutating)
};

bool mutating(std::string_view method) { return method == "POST" || method == "DELETE"; }

}  // namespace

// What the server needs of a connection whatever its stream (TCP or TLS).
class AdminConnectionBase {
 public:
  virtual ~AdminConnectionBase() = default;
  virtual void run() = 0;
  // Safe from any thread.
  virtual void close() = 0;
  // Waiting on its client (for a request head or body, or to take an answer), not on an
  // added route's answer: what the server may close when its connections are all taken.
  bool waiting_on_client() const { return waiting_on_client_.load(std::memory_order_relaxed); }

 protected:
  std::atomic<bool> waiting_on_client_{true};
};

class AdminServer::Impl : public std::enable_shared_from_this<AdminServer::Impl> {
 public:
  Impl(net::io_context& ioc, Endpoint ep, Metrics& metrics, std::function<bool()> ready)
      : ioc_(ioc),
        ep_(std::move(ep)),
        metrics_(metrics),
        ready_(std::move(ready)),
        strand_(net::make_strand(ioc)),
        acceptor_(strand_) {}

  void start();
  void stop();
  uint16_t port() const { return port_.load(); }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  // Answers a builtin route into `res` and returns true, or finds the added route: returns
  // false with `route` set (nullptr: 404/405 written into `res`, true returned instead).
  bool handle_builtin(const http::request<http::string_body>& req,
                      http::response<http::string_body>& res, const Route*& route);
  void add_route(std::string method, std::string prefix, AdminRoute fn, bool credential) {
    const bool needs = credential || mutating(method);
    routes_.push_back({std::move(method), std::move(prefix), std::move(fn), needs});
  }
  std::string operator_token() const { return token_ ? token_() : std::string(); }
  std::function<std::string()> token_;
  std::chrono::milliseconds body_timeout_ = kDefaultBodyTimeout;
  std::unique_ptr<net::ssl::context> tls_;  // null: cleartext
  bool client_certificates_ = false;        // tls_ verifies client certificates

 private:
  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);

  net::io_context& ioc_;
  const Endpoint ep_;
  Metrics& metrics_;
  std::function<bool()> ready_;
  std::vector<Route> routes_;  // fixed before start()
  net::strand<net::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  AcceptBackoff backoff_;  // out of descriptors: shed and pause instead of spinning
  net::steady_timer pause_{strand_};
  std::atomic<uint16_t> port_{0};

  std::mutex mu_;  // guards the two below
  bool stopped_ = false;
  std::vector<std::weak_ptr<AdminConnectionBase>> conns_;
};

// One keep-alive HTTP/1.1 connection; all its handlers run on its own strand. One request
// at a time: the next is read once the answer is written. Stream: beast::tcp_stream or
// beast::ssl_stream<beast::tcp_stream> (admin.tls).
template <class Stream>
class AdminConnection : public AdminConnectionBase,
                        public std::enable_shared_from_this<AdminConnection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  AdminConnection(tcp::socket socket, std::shared_ptr<AdminServer::Impl> server)
      : stream_(make_stream(std::move(socket), *server)), server_(std::move(server)) {}

  void run() override {
    if constexpr (kTls) {
      lowest().expires_after(kIdleTimeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](error_code ec) {
                                if (ec) return self->shutdown();
                                self->client_certificate_ok_ = self->verified_client();
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

  void close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->shutdown(); });
  }

  // The answer of an added route; from any thread (posted to the strand).
  void answer(unsigned status, std::string body) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), status, body = std::move(body)]() mutable {
                self->write_answer(status, std::move(body));
              });
  }

  bool server_stopped() { return server_->stopped(); }

 private:
  using std::enable_shared_from_this<AdminConnection<Stream>>::shared_from_this;

  static Stream make_stream(tcp::socket socket, AdminServer::Impl& server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.tls_);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // A client certificate that admin.tls.client_ca verified: the operator credential too.
  bool verified_client() {
    if constexpr (kTls) {
      if (!server_->client_certificates_) return false;
      SSL* ssl = stream_.native_handle();
      X509* cert = SSL_get0_peer_certificate(ssl);
      return cert != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
    } else {
      return false;
    }
  }

  void do_read() {
    if (server_->stopped()) return shutdown();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    lowest().expires_after(kIdleTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (ec) return on_read(ec);
    // The body (if any) must arrive within the body timeout: a slow client cannot hold a
    // connection for long.
    lowest().expires_after(server_->body_timeout_);
    if (parser_->is_done()) return on_read({});
    const auto& h = parser_->get();
    if (beast::iequals(h[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                              [self = shared_from_this()](error_code wec, size_t) {
                                if (wec) return self->shutdown();
                                self->read_body();
                              });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      if (ec == http::error::body_limit) {
        plain_error(http::status::payload_too_large,
                    admin_error_json(Code::kTooLarge, "admin request body over 1 MiB"));
        return do_write();
      }
      if (is_http_parse_error(ec) && ec != http::error::end_of_stream) {
        // Garbage or oversized input: answer 400 once, then close.
        plain_error(http::status::bad_request, "bad request");
        res_.set(http::field::content_type, "text/plain");
        return do_write();
      }
      return shutdown();  // end of stream, timeout, reset
    }
    lowest().expires_never();  // an added route may answer later
    req_ = parser_->release();
    res_ = {};
    const Route* route = nullptr;
    if (server_->handle_builtin(req_, res_, route)) return do_write();
    dispatch(*route);
  }

  void plain_error(http::status status, std::string body) {
    res_ = {};
    res_.version(11);
    res_.result(status);
    res_.set(http::field::server, "ptp-gateway-admin");
    res_.set(http::field::content_type, "application/json");
    res_.body() = std::move(body);
    res_.keep_alive(false);
    res_.prepare_payload();
  }

  // Shared by the copies of one AdminRespond: the first call answers, a respond dropped
  // uncalled answers 500.
  struct Reply {
    std::shared_ptr<AdminConnection> conn;
    std::atomic<bool> done{false};
    void send(unsigned status, std::string body) {
      if (done.exchange(true)) return;
      conn->answer(status, std::move(body));
    }
    ~Reply() {
      if (!done.load() && !conn->server_stopped())
        conn->answer(500, admin_error_json(Code::kSystemError, "the admin route gave no answer"));
    }
  };

  void dispatch(const Route& route) {
    const std::string method(req_.method_string());
    if (route.credential && !client_certificate_ok_) {
      const BearerCheck c =
          check_bearer(req_[http::field::authorization], server_->operator_token());
      if (c != BearerCheck::kOk) {
        auto [status, body] = bearer_refusal(c);
        return write_answer(status, std::move(body));
      }
    }
    std::string_view target = req_.target(), query;
    if (const auto q = target.find('?'); q != std::string_view::npos) {
      query = target.substr(q + 1);
      target = target.substr(0, q);
    }
    AdminRequest areq{method == "HEAD" ? "GET" : method,
                      std::string(target.substr(route.prefix.size())), std::move(req_.body()),
                      std::string(query)};
    auto reply = std::make_shared<Reply>();
    reply->conn = shared_from_this();
    waiting_on_client_.store(false, std::memory_order_relaxed);  // until write_answer
    try {
      route.fn(std::move(areq), [reply](unsigned status, std::string body) {
        reply->send(status, std::move(body));
      });
    } catch (const std::exception& e) {
      reply->send(500, admin_error_json(Code::kSystemError, e.what()));
    }
  }

  void write_answer(unsigned status, std::string body) {
    waiting_on_client_.store(true, std::memory_order_relaxed);
    if (server_->stopped()) return shutdown();
    res_ = {};
    res_.version(req_.version());
    res_.keep_alive(req_.keep_alive());
    res_.result(static_cast<http::status>(status));
    res_.set(http::field::server, "ptp-gateway-admin");
    res_.set(http::field::content_type, "application/json");
    res_.set(http::field::cache_control, "no-store");
    res_.body() = std::move(body);
    res_.prepare_payload();
    if (req_.method() == http::verb::head) res_.body().clear();  // keeps Content-Length
    do_write();
  }

  void do_write() {
    lowest().expires_after(kWriteTimeout);
    http::async_write(stream_, res_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->shutdown();
      if (!self->res_.keep_alive()) return self->shutdown();
      self->do_read();
    });
  }

  void shutdown() {
    error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  Stream stream_;
  bool client_certificate_ok_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  std::shared_ptr<AdminServer::Impl> server_;
};

void AdminServer::Impl::start() {
  if (acceptor_.is_open()) return;
  const tcp::endpoint endpoint = resolve(ioc_, ep_);
  auto fail = [&](const char* what, const error_code& ec) {
    error_code ignored;
    acceptor_.close(ignored);
    throw std::runtime_error(std::string("admin server: cannot ") + what + " " + ep_.to_string() +
                             ": " + ec.message());
  };
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) fail("open a socket for", ec);
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("set options on", ec);
  acceptor_.bind(endpoint, ec);
  if (ec) fail("bind", ec);
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on", ec);
  port_ = acceptor_.local_endpoint().port();
  // No handler is outstanding yet, so starting the loop from this thread is safe.
  do_accept();
}

void AdminServer::Impl::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         [self = shared_from_this()](error_code ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void AdminServer::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    std::shared_ptr<AdminConnectionBase> conn;
    if (tls_)
      conn = std::make_shared<AdminConnection<beast::ssl_stream<beast::tcp_stream>>>(
          std::move(socket), shared_from_this());
    else
      conn = std::make_shared<AdminConnection<beast::tcp_stream>>(std::move(socket),
                                                                  shared_from_this());
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;  // the socket closes with conn
      std::erase_if(conns_, [](const auto& w) { return w.expired(); });
      if (conns_.size() >= kMaxConnections) {
        // All taken: the oldest connection waiting on its client (silent, sending its
        // request slowly, or not taking its answer) makes room, so such connections cannot
        // keep the operator, a scrape or a readiness probe out (docs/security.md "The
        // admin port"). One waiting on a route's answer is kept.
        auto idle = std::find_if(conns_.begin(), conns_.end(), [](const auto& w) {
          auto c = w.lock();
          return c && c->waiting_on_client();
        });
        if (idle != conns_.end()) {
          if (auto c = idle->lock()) c->close();
          conns_.erase(idle);
        }
      }
      if (conns_.size() >= kMaxConnections) {
        conn.reset();  // every one waits on a route: closes the new socket
      } else {
        conns_.push_back(conn);
      }
    }
    if (conn) conn->run();
  }
  // Transient accept errors (EMFILE, ECONNABORTED) must not stop the admin endpoint; out
  // of descriptors, it pauses (common/accept_backoff.h) instead of spinning.
  if (ec && AcceptBackoff::out_of_descriptors(ec)) {
    backoff_.shed_one(acceptor_.native_handle());
    pause_.expires_after(AcceptBackoff::kPause);
    pause_.async_wait([self = shared_from_this()](error_code wait_ec) {
      if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
    });
    return;
  }
  do_accept();
}

void AdminServer::Impl::stop() {
  std::vector<std::shared_ptr<AdminConnectionBase>> open;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& w : conns_) {
      if (auto c = w.lock()) open.push_back(std::move(c));
    }
    conns_.clear();
  }
  net::post(strand_, [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_.close(ignored);
  });
  for (auto& c : open) c->close();
}

bool AdminServer::Impl::handle_builtin(const http::request<http::string_body>& req,
                                       http::response<http::string_body>& res,
                                       const Route*& route) {
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "ptp-gateway-admin");
  res.set(http::field::content_type, "text/plain");

  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  std::string_view method = req.method_string();
  if (req.method() == http::verb::head) method = "GET";

  // The longest matching prefix; among those of that prefix, the one of this method.
  const Route* longest = nullptr;
  route = nullptr;
  for (const auto& r : routes_) {
    if (!target.starts_with(r.prefix)) continue;
    if (!longest || r.prefix.size() > longest->prefix.size()) {
      longest = &r;
      route = nullptr;
    }
    if (r.prefix.size() == longest->prefix.size() && r.method == method) route = &r;
  }
  const bool builtin = target == "/metrics" || target == "/healthz" || target == "/readyz";
  if (route) return false;
  if (longest && !builtin) {
    std::string allow;
    for (const auto& r : routes_) {
      if (r.prefix != longest->prefix) continue;
      if (!allow.empty()) allow += ", ";
      allow += r.method == "GET" ? "GET, HEAD" : r.method;
    }
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, allow);
    res.body() = "method not allowed";
  } else if (!builtin) {
    res.result(http::status::not_found);
    res.body() = "not found";
  } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.body() = "method not allowed";
  } else if (target == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = metrics_.render();
  } else if (target == "/healthz") {
    res.result(http::status::ok);
    res.body() = "ok";
  } else {
    bool ready = false;
    try {
      ready = ready_ && ready_();
    } catch (...) {
      ready = false;  // a failing probe means not ready, not a dead admin endpoint
    }
    res.result(ready ? http::status::ok : http::status::service_unavailable);
    res.body() = ready ? "ready" : "not ready";
  }
  res.set(http::field::cache_control, "no-store");
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // keeps Content-Length
  return true;
}

AdminServer::AdminServer(net::io_context& ioc, const Endpoint& ep, Metrics& metrics,
                         std::function<bool()> ready)
    : impl_(std::make_shared<Impl>(ioc, ep, metrics, std::move(ready))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::add_json_route(std::string prefix, JsonRoute fn) {
  impl_->add_route(
      "GET", std::move(prefix),
      [fn = std::move(fn)](AdminRequest req, AdminRespond respond) {
        auto [status, body] = fn(req.path_rest);
        respond(status, std::move(body));
      },
      false);
}

void AdminServer::add_route(std::string method, std::string prefix, AdminRoute fn,
                            bool credential) {
  impl_->add_route(std::move(method), std::move(prefix), std::move(fn), credential);
}

void AdminServer::set_operator_token(std::function<std::string()> token) {
  impl_->token_ = std::move(token);
}

void AdminServer::set_tls(const TlsServerConfig& tls) {
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1);
  error_code ec;
  ctx->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) throw std::runtime_error("admin.tls.cert " + tls.cert_file + ": " + ec.message());
  ctx->use_private_key_file(tls.key_file, net::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("admin.tls.key " + tls.key_file + ": " + ec.message());
  impl_->client_certificates_ = !tls.client_ca_file.empty();
  if (impl_->client_certificates_) {
    ctx->load_verify_file(tls.client_ca_file, ec);
    if (ec)
      throw std::runtime_error("admin.tls.client_ca " + tls.client_ca_file + ": " + ec.message());
    // Optional: without one, the bearer token is the credential.
    ctx->set_verify_mode(net::ssl::verify_peer);
  }
  impl_->tls_ = std::move(ctx);
}

void AdminServer::set_body_timeout(std::chrono::milliseconds timeout) {
  impl_->body_timeout_ = timeout;
}

void AdminServer::start() { impl_->start(); }
uint16_t AdminServer::port() const { return impl_->port(); }
void AdminServer::stop() { impl_->stop(); }

}  // namespace ptp
