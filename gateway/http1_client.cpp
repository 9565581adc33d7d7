#include "gateway/http1_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include "gateway/http1_conn_pool.h"

namespace ptp {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using error_code = boost::system::error_code;
using http1::ConnPtr;

std::string pool_key(const Http1Target& t) {
  std::string k = t.tls ? "https://" : "http://";
  k += t.authority();
  if (t.tls) k += "#" + (t.server_name.empty() ? t.host : t.server_name);
  return k;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

// Headers this client manages itself.
bool managed_header(std::string_view name) {
  for (std::string_view m :
       {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade"})
    if (boost::beast::iequals(name, m)) return true;
  return false;
}

}  // namespace

struct Http1ClientPool::Impl {
  explicit Impl(asio::any_io_executor e, Http1ClientOptions o)
      : ex(std::move(e)), opts(o), conns(o.max_idle_time) {}
  asio::any_io_executor ex;
  Http1ClientOptions opts;
  http1::ConnPool conns;
  size_t opened = 0;
};

namespace {

// One request, from connect (or reuse) to callback.
class Op : public http1::ConnWaiter, public std::enable_shared_from_this<Op> {
 public:
  Op(std::shared_ptr<Http1ClientPool::Impl> pool, Http1Target target, std::string path,
     HeaderList headers, std::string body, std::chrono::milliseconds timeout,
     std::function<void(Http1Result)> done)
      : pool_(std::move(pool)),
        target_(std::move(target)),
        key_(pool_key(target_)),
        limit_(target_.max_connections ? target_.max_connections
                                       : pool_->opts.max_connections_per_host),
        timeout_(timeout),
        done_(std::move(done)),
        timer_(pool_->ex),
        resolver_(pool_->ex) {
    req_.method(http::verb::post);
    req_.target(path.empty() ? "/" : path);
    req_.version(11);
    req_.set(http::field::host, target_.authority());
    for (auto& [name, value] : headers)
      if (!managed_header(name)) req_.insert(name, value);
    if (req_.find(http::field::content_type) == req_.end())
      req_.set(http::field::content_type, "application/octet-stream");
    req_.body() = std::move(body);
    req_.keep_alive(true);
    req_.prepare_payload();
  }

  void start() {
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_timeout();
    });
    ConnPtr c;
    if (pool_->conns.acquire(key_, limit_, c, weak_from_this())) use_slot(std::move(c));
  }

  bool grant(ConnPtr c) override {
    if (finished_) return false;
    use_slot(std::move(c));
    return true;
  }

 private:
  // One use of one connection; handlers of an abandoned attempt find it is not current_.
  struct Attempt {
    ConnPtr conn;
    bool reused = false;
    bool write_done = false;
    error_code write_ec;
    http::response_parser<http::string_body> parser;
  };
  using AttemptPtr = std::shared_ptr<Attempt>;

  void use_slot(ConnPtr c) {
    has_slot_ = true;
    if (c) return send(std::move(c), /*reused=*/true);
    connect();
  }

  void connect() {
    if (target_.tls && !target_.tls_context)
      return fail(Code::kBadAddress,
                  "TLS requested for " + target_.authority() + " but no TLS context configured");
    connecting_ = std::make_shared<http1::Conn>();
    if (target_.tls)
      connecting_->tls.emplace(pool_->ex, *target_.tls_context);
    else
      connecting_->plain.emplace(pool_->ex);
    ++pool_->opened;
    error_code ec;
    auto addr = asio::ip::make_address(target_.host, ec);
    if (!ec) {
      return connecting_->lowest().async_connect(
          tcp::endpoint(addr, target_.port),
          [self = shared_from_this(), c = connecting_](error_code ec) { self->on_connect(c, ec); });
    }
    resolver_.async_resolve(
        target_.host, std::to_string(target_.port),
        [self = shared_from_this(), c = connecting_](error_code ec,
                                                     tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (ec)
            return self->fail(Code::kUnreachable,
                              "cannot resolve " + self->target_.authority() + ": " + ec.message());
          asio::async_connect(c->lowest(), results, [self, c](error_code ec, const tcp::endpoint&) {
            self->on_connect(c, ec);
          });
        });
  }

  void on_connect(const ConnPtr& c, error_code ec) {
    if (finished_) return;
    if (ec)
      return fail(Code::kUnreachable,
                  "cannot connect to " + target_.authority() + ": " + ec.message());
    c->lowest().set_option(tcp::no_delay(true), ec);
    if (!c->tls) {
      connecting_.reset();
      return send(c, /*reused=*/false);
    }
    const std::string& name = target_.server_name.empty() ? target_.host : target_.server_name;
    error_code not_ip;
    asio::ip::make_address(name, not_ip);
    if (not_ip)  // RFC 6066: SNI carries host names only
      SSL_set_tlsext_host_name(c->tls->native_handle(), name.c_str());
    SSL_set1_host(c->tls->native_handle(), name.c_str());  // IP literals: IP SAN
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(c->tls->native_handle(), kAlpn, sizeof kAlpn);
    c->tls->async_handshake(asio::ssl::stream_base::client, [self = shared_from_this(),
                                                             c](error_code ec) {
      if (self->finished_) return;
      self->connecting_.reset();
      if (ec) {
        long vr = SSL_get_verify_result(c->tls->native_handle());
        return self->fail(
            Code::kCertCheck,
            "TLS handshake with " + self->target_.authority() + " failed: " + ec.message() +
                (vr == X509_V_OK ? std::string()
                                 : std::string(" (") + X509_verify_cert_error_string(vr) + ")"));
      }
      self->send(c, /*reused=*/false);
    });
  }

  void send(ConnPtr c, bool reused) {
    auto a = std::make_shared<Attempt>();
    a->conn = std::move(c);
    a->reused = reused;
    a->parser.header_limit(pool_->opts.max_response_header_bytes);
    a->parser.body_limit(pool_->opts.max_response_body_bytes);
    current_ = a;
    // Read while writing: a server may answer (413, 404) before taking the whole body.
    a->conn->with_stream([&](auto& s) {
      http::async_write(s, req_, [self = shared_from_this(), a](error_code ec, size_t) {
        a->write_done = true;
        a->write_ec = ec;
      });
      http::async_read(
          s, a->conn->buf, a->parser,
          [self = shared_from_this(), a](error_code ec, size_t) { self->on_read(a, ec); });
    });
  }

  void on_read(const AttemptPtr& a, error_code ec) {
    if (finished_ || a != current_) return;
    if (ec) {
      a->conn->close();
      // A kept-alive connection the server dropped meanwhile: one retry on a fresh one.
      if (a->reused && !retried_ && !a->parser.got_some()) {
        retried_ = true;
        current_.reset();
        return connect();
      }
      // TLS 1.3: a server that rejects our client certificate says so with an alert
      // after our side of the handshake completed, i.e. on the first read.
      if (a->conn->tls && !a->reused && !a->parser.got_some() &&
          ec.category() == asio::error::get_ssl_category()) {
        const bool has_cert =
            SSL_CTX_get0_certificate(SSL_get_SSL_CTX(a->conn->tls->native_handle())) != nullptr;
        return fail(
            Code::kCertCheck,
            "TLS with " + target_.authority() +
                " failed: the peer rejected the connection after the handshake (" + ec.message() +
                ")" +
                (has_cert ? "" : "; no client certificate is configured (peers[].tls.cert/key)"));
      }
      if (ec == http::error::body_limit)
        return fail(Code::kTooLarge, "response from " + target_.authority() + " exceeds " +
                                         std::to_string(pool_->opts.max_response_body_bytes) +
                                         " bytes");
      const bool parse_error =
          ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (parse_error)
        return fail(Code::kCodecError,
                    "malformed HTTP response from " + target_.authority() + ": " + ec.message());
      return fail(Code::kUnreachable,
                  "connection to " + target_.authority() + " lost: " + ec.message());
    }
    auto& res = a->parser.get();
    Http1Result r;
    r.http_status = static_cast<int>(res.result_int());
    for (const auto& f : res)
      r.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
    r.body = std::move(res.body());
    // Reusable only if the whole request went out and both sides keep the connection.
    has_slot_ = false;
    if (res.keep_alive() && a->write_done && !a->write_ec) {
      pool_->conns.release(key_, a->conn);
    } else {
      a->conn->close();
      pool_->conns.release(key_, nullptr);
    }
    current_.reset();
    finish(std::move(r));
  }

  void on_timeout() {
    if (finished_) return;
    resolver_.cancel();
    if (connecting_) connecting_->close();
    if (current_) current_->conn->close();
    fail(Code::kTimeout, "no response from " + target_.authority() + " within " +
                             std::to_string(timeout_.count()) + " ms");
  }

  void fail(Code c, std::string msg) {
    if (connecting_) connecting_->close();
    if (current_) current_->conn->close();
    Http1Result r;
    r.status = Status::Error(c, std::move(msg));
    finish(std::move(r));
  }

  void finish(Http1Result r) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    // Every failure path closed its connection before getting here.
    if (std::exchange(has_slot_, false)) pool_->conns.release(key_, nullptr);
    auto done = std::move(done_);
    done(std::move(r));
  }

  std::shared_ptr<Http1ClientPool::Impl> pool_;
  Http1Target target_;
  std::string key_;
  size_t limit_;
  std::chrono::milliseconds timeout_;
  std::function<void(Http1Result)> done_;
  asio::steady_timer timer_;
  tcp::resolver resolver_;
  http::request<http::string_body> req_;
  ConnPtr connecting_;
  AttemptPtr current_;
  bool has_slot_ = false;  // counted in the pool's per-host limit until released
  bool retried_ = false;
  bool finished_ = false;
};

}  // namespace

Http1ClientPool::Http1ClientPool(asio::any_io_executor ex, Http1ClientOptions opts)
    : impl_(std::make_shared<Impl>(std::move(ex), opts)) {}

Http1ClientPool::~Http1ClientPool() { impl_->conns.close_all(); }

void Http1ClientPool::post(const Http1Target& t, std::string path, HeaderList headers,
                           std::string body, std::chrono::milliseconds timeout,
                           std::function<void(Http1Result)> done) {
  auto op = std::make_shared<Op>(impl_, t, std::move(path), std::move(headers), std::move(body),
                                 timeout, std::move(done));
  // Started from the executor so that no path can call `done` inside post().
  asio::post(impl_->ex, [op] { op->start(); });
}

size_t Http1ClientPool::idle_connections() const { return impl_->conns.idle(); }

size_t Http1ClientPool::connections_opened() const { return impl_->opened; }

}  // namespace ptp
