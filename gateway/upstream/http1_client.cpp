#include "gateway/upstream/http1_client.h"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

#include "gateway/observability/metrics.h"
#include "gateway/upstream/deadline_queue.h"
#include "gateway/upstream/http1_conn_pool.h"
#include "gateway/upstream/http1_request_writer.h"
#include "gateway/upstream/http1_response_parser.h"
#include "gateway/upstream/pinned_peer.h"

namespace ptp {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using error_code = boost::system::error_code;
using http1::ConnPtr;

// What a request deadline reaches when it passes.
struct TimeoutListener {
  virtual ~TimeoutListener() = default;
  virtual void on_timeout() = 0;
};

}  // namespace

struct Http1ClientPool::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(asio::any_io_executor e, Http1ClientOptions o)
      : ex(std::move(e)), opts(o), conns(o.max_idle_time), timer(ex) {}
  asio::any_io_executor ex;
  Http1ClientOptions opts;
  http1::ConnPool conns;
  size_t opened = 0;

  // Request deadlines: one timer for the pool, armed for the earliest, instead of a timer
  // per request (arming and cancelling one costs two reactor locks and a handler). A
  // watched request is kept alive until it finishes or times out (also while it waits
  // for a connection slot, where nothing else holds it).
  int32_t watch(std::shared_ptr<TimeoutListener> l, std::chrono::milliseconds timeout) {
    next_id = next_id == std::numeric_limits<int32_t>::max() ? 1 : next_id + 1;
    watched.emplace(next_id, std::move(l));
    const auto now = DeadlineQueue::Clock::now();
    deadlines.add(next_id, timeout, now);
    if (!armed || now + timeout < armed_at) arm(now + timeout);
    return next_id;
  }
  void unwatch(int32_t id) { watched.erase(id); }
  // The pool is going away: requests that only the deadlines held are let go.
  void stop_watching() {
    watched.clear();
    timer.cancel();
  }

 private:
  void arm(DeadlineQueue::Clock::time_point at) {
    armed = true;
    armed_at = at;
    timer.expires_at(at);  // cancels a wait armed for a later deadline
    timer.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->on_deadlines();
    });
  }
  void on_deadlines() {
    armed = false;
    std::vector<int32_t> due;
    deadlines.take_expired(DeadlineQueue::Clock::now(), due);
    for (int32_t id : due) {
      auto it = watched.find(id);
      if (it == watched.end()) continue;
      std::shared_ptr<TimeoutListener> l = std::move(it->second);
      watched.erase(it);
      l->on_timeout();  // may start requests, and arm the timer for them
    }
    if (auto next = deadlines.earliest(); next && (!armed || *next < armed_at)) arm(*next);
  }

  std::unordered_map<int32_t, std::shared_ptr<TimeoutListener>> watched;
  DeadlineQueue deadlines{[this](int32_t id) { return watched.contains(id); }};
  int32_t next_id = 0;
  asio::steady_timer timer;
  bool armed = false;
  DeadlineQueue::Clock::time_point armed_at;
};

namespace {

// One request, from connect (or reuse) to callback. Each use of a connection is an
// attempt; handlers of an abandoned attempt find their number is not attempt_.
class Op : public http1::ConnWaiter,
           public TimeoutListener,
           public std::enable_shared_from_this<Op> {
 public:
  Op(std::shared_ptr<Http1ClientPool::Impl> pool, const Http1Target& target, std::string_view path,
     std::span<const http1::HeaderView> headers, std::string body,
     std::chrono::milliseconds timeout, std::function<void(Http1Result)> done)
      : pool_(std::move(pool)),
        host_(pool_->conns.host(target.host, target.port, target.tls, target.server_name)),
        tls_context_(target.tls_context),
        limit_(target.max_connections ? target.max_connections
                                      : pool_->opts.max_connections_per_host),
        timeout_(timeout),
        done_(std::move(done)),
        body_(std::move(body)) {
    if (!http1::write_request_head(head_, path, endpoint().authority, headers, body_.size(),
                                   bad_request_))
      head_.clear();
  }

  void start() {
    if (!bad_request_.empty())
      return fail(Code::kCodecError,
                  "cannot send the request to " + endpoint().authority + ": " + bad_request_);
    deadline_id_ = pool_->watch(shared_from_this(), timeout_);
    ConnPtr c;
    if (pool_->conns.acquire(host_, limit_, c, weak_from_this())) use_slot(std::move(c));
  }

  bool grant(ConnPtr c) override {
    if (finished_) return false;
    use_slot(std::move(c));
    return true;
  }

 private:
  static constexpr size_t kJoinForTls = 16 << 10;  // one TLS record's payload

  const http1::Endpoint& endpoint() const { return host_.endpoint(); }
  // Room for a header or chunk line (the body is consumed as it arrives).
  size_t max_buffer() const { return pool_->opts.max_response_header_bytes + (16 << 10); }

  void use_slot(ConnPtr c) {
    has_slot_ = true;
    if (c) return send(std::move(c), /*reused=*/true);
    connect();
  }

  void connect() {
    const http1::Endpoint& e = endpoint();
    if (e.tls && !tls_context_)
      return fail(Code::kBadAddress,
                  "TLS requested for " + e.authority + " but no TLS context configured");
    connecting_ = std::make_shared<http1::Conn>();
    if (e.tls)
      connecting_->tls.emplace(pool_->ex, *tls_context_);
    else
      connecting_->plain.emplace(pool_->ex);
    ++pool_->opened;
    error_code ec;
    auto addr = asio::ip::make_address(e.host, ec);
    if (!ec) {
      return connecting_->lowest().async_connect(
          tcp::endpoint(addr, e.port),
          [self = shared_from_this(), c = connecting_](error_code ec) { self->on_connect(c, ec); });
    }
    resolver_.emplace(pool_->ex);
    resolver_->async_resolve(
        e.host, std::to_string(e.port),
        [self = shared_from_this(), c = connecting_](error_code ec,
                                                     tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (ec)
            return self->fail(Code::kUnreachable,
                              "cannot resolve " + self->endpoint().authority + ": " + ec.message());
          asio::async_connect(c->lowest(), results, [self, c](error_code ec, const tcp::endpoint&) {
            self->on_connect(c, ec);
          });
        });
  }

  void on_connect(const ConnPtr& c, error_code ec) {
    if (finished_) return;
    const http1::Endpoint& e = endpoint();
    if (ec)
      return fail(Code::kUnreachable, "cannot connect to " + e.authority + ": " + ec.message());
    c->lowest().set_option(tcp::no_delay(true), ec);
    if (!c->tls) {
      connecting_.reset();
      return send(c, /*reused=*/false);
    }
    const std::string& name = e.server_name;
    error_code not_ip;
    asio::ip::make_address(name, not_ip);
    if (not_ip)  // RFC 6066: SNI carries host names only
      SSL_set_tlsext_host_name(c->tls->native_handle(), name.c_str());
    SSL_set1_host(c->tls->native_handle(), name.c_str());  // IP literals: IP SAN
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(c->tls->native_handle(), kAlpn, sizeof kAlpn);
    c->tls->async_handshake(
        asio::ssl::stream_base::client, [self = shared_from_this(), c](error_code ec) {
          if (self->finished_) return;
          self->connecting_.reset();
          if (ec) {
            long vr = SSL_get_verify_result(c->tls->native_handle());
            return self->fail(
                Code::kCertCheck,
                "TLS handshake with " + self->endpoint().authority + " failed: " + ec.message() +
                    (vr == X509_V_OK ? std::string() : " (" + tls_verify_text(vr) + ")"));
          }
          self->send(c, /*reused=*/false);
        });
  }

  void send(ConnPtr c, bool reused) {
    conn_ = std::move(c);
    reused_ = reused;
    write_done_ = false;
    write_ec_ = {};
    got_interim_ = false;
    const unsigned attempt = ++attempt_;
    parser_.emplace(pool_->opts.max_response_header_bytes, pool_->opts.max_response_body_bytes);
    // Head and body in one write: one sendmsg on plain TCP. A TLS stream writes one
    // buffer per record, so a small body joins the head (one record, one send).
    if (conn_->tls && !body_.empty() && body_.size() <= kJoinForTls) {
      head_ += body_;
      body_.clear();
    }
    const std::array<asio::const_buffer, 2> out{asio::buffer(head_), asio::buffer(body_)};
    // Composed operations (the write's later parts, TLS reads) use the stream after this
    // request may have finished and dropped the connection: their handlers keep it.
    conn_->with_stream([&](auto& s) {
      asio::async_write(s, out,
                        [self = shared_from_this(), c = conn_, attempt](error_code ec, size_t) {
                          if (attempt != self->attempt_) return;
                          self->write_done_ = true;
                          self->write_ec_ = ec;
                        });
    });
    // Read while writing: a server may answer (413, 404) before taking the whole body.
    read();
  }

  // One large read (http1_read_buffer.h) takes a small response whole. Asio (1.74) tries
  // a recv as the read starts, which right after the request finds nothing: two recvs per
  // response. An async_wait for readiness instead costs an epoll_ctl per response, and
  // starting the read later (posted) was measured not to find the answer there either.
  void read() {
    auto space = conn_->buf.prepare(max_buffer());
    if (space.size() == 0) return fail_line_too_long();
    conn_->with_stream([&](auto& s) {
      s.async_read_some(space, [self = shared_from_this(), c = conn_, attempt = attempt_](
                                   error_code ec, size_t n) {
        if (self->finished_ || attempt != self->attempt_) return;
        if (ec) return self->on_read_error(ec);
        self->conn_->buf.commit(n);
        if (self->parse()) self->read();
      });
    });
  }

  // Feeds the buffered bytes to the parser; true when it needs more. Completes or fails
  // the request otherwise.
  bool parse() {
    for (;;) {
      error_code ec;
      size_t used = parser_->feed(conn_->buf.data(), ec);
      conn_->buf.consume(used);
      if (ec == http::error::need_more) return true;
      if (ec) {
        on_parse_error(ec);
        return false;
      }
      if (!parser_->interim()) {
        complete();
        return false;
      }
      // A 1xx interim response: the final one follows on the same connection.
      got_interim_ = true;
      parser_.emplace(pool_->opts.max_response_header_bytes, pool_->opts.max_response_body_bytes);
    }
  }

  void fail_line_too_long() {
    fail(Code::kCodecError, "malformed HTTP response from " + endpoint().authority +
                                ": a header or chunk line exceeds " + std::to_string(max_buffer()) +
                                " bytes");
  }

  void on_parse_error(error_code ec) {
    if (ec == http::error::body_limit)
      return fail(Code::kTooLarge, "response from " + endpoint().authority + " exceeds " +
                                       std::to_string(pool_->opts.max_response_body_bytes) +
                                       " bytes");
    fail(Code::kCodecError,
         "malformed HTTP response from " + endpoint().authority + ": " + ec.message());
  }

  void on_read_error(error_code ec) {
    conn_->close();
    const bool got_some = parser_->got_some() || got_interim_;
    if (ec == asio::error::eof && got_some && parser_->need_eof()) {
      // The body ends with the connection.
      error_code pec;
      parser_->put_eof(pec);
      if (pec) return on_parse_error(pec);
      return complete();
    }
    // A kept-alive connection the server dropped meanwhile: one retry on a fresh one.
    if (reused_ && !retried_ && !got_some) {
      retried_ = true;
      conn_.reset();
      ++attempt_;
      return connect();
    }
    // TLS 1.3: a server that rejects our client certificate says so with an alert
    // after our side of the handshake completed, i.e. on the first read.
    if (conn_->tls && !reused_ && !got_some && ec.category() == asio::error::get_ssl_category()) {
      const bool has_cert =
          SSL_CTX_get0_certificate(SSL_get_SSL_CTX(conn_->tls->native_handle())) != nullptr;
      return fail(
          Code::kCertCheck,
          "TLS with " + endpoint().authority +
              " failed: the peer rejected the connection after the handshake (" + ec.message() +
              ")" +
              (has_cert ? "" : "; no client certificate is configured (peers[].tls.cert/key)"));
    }
    if (ec == asio::error::eof)
      ec = got_some ? http::error::partial_message : http::error::end_of_stream;
    fail(Code::kUnreachable, "connection to " + endpoint().authority + " lost: " + ec.message());
  }

  void complete() {
    Http1Result r = std::move(parser_->result());
    // Reusable only if the whole request went out and both sides keep the connection.
    has_slot_ = false;
    if (parser_->keep_alive() && write_done_ && !write_ec_ && conn_->lowest().is_open()) {
      pool_->conns.release(host_, std::move(conn_));
    } else {
      conn_->close();
      pool_->conns.release(host_, nullptr);
    }
    conn_.reset();
    finish(std::move(r));
  }

  void on_timeout() override {
    if (finished_) return;
    if (resolver_) resolver_->cancel();
    fail(Code::kTimeout, "no response from " + endpoint().authority + " within " +
                             std::to_string(timeout_.count()) + " ms");
  }

  void fail(Code c, std::string msg) {
    if (c == Code::kCertCheck && pool_->opts.metrics)
      pool_->opts.metrics->tls_handshake_failed(Metrics::TlsSide::kClient,
                                                Metrics::tls_failure_of(msg));
    if (connecting_) connecting_->close();
    if (conn_) conn_->close();
    Http1Result r;
    r.status = Status::Error(c, std::move(msg));
    finish(std::move(r));
  }

  void finish(Http1Result r) {
    if (finished_) return;
    finished_ = true;
    auto keep = shared_from_this();  // the deadline watch may have held the last reference
    if (deadline_id_) pool_->unwatch(deadline_id_);
    // Every failure path closed its connection before getting here.
    if (std::exchange(has_slot_, false)) pool_->conns.release(host_, nullptr);
    auto done = std::move(done_);
    done(std::move(r));
  }

  std::shared_ptr<Http1ClientPool::Impl> pool_;
  http1::ConnPool::HostRef host_;
  asio::ssl::context* tls_context_;
  size_t limit_;
  std::chrono::milliseconds timeout_;
  std::function<void(Http1Result)> done_;
  int32_t deadline_id_ = 0;                // watched by the pool (0: not yet)
  std::optional<tcp::resolver> resolver_;  // only for host names
  std::string head_;
  std::string body_;
  std::string bad_request_;  // why the request cannot be serialized
  ConnPtr connecting_;
  ConnPtr conn_;  // of the current attempt
  std::optional<http1::ResponseParser> parser_;
  unsigned attempt_ = 0;
  bool reused_ = false;
  bool got_interim_ = false;  // the server answered (1xx): no retry elsewhere
  bool write_done_ = false;
  error_code write_ec_;
  bool has_slot_ = false;  // counted in the pool's per-host limit until released
  bool retried_ = false;
  bool finished_ = false;
};

}  // namespace

Http1ClientPool::Http1ClientPool(asio::any_io_executor ex, Http1ClientOptions opts)
    : impl_(std::make_shared<Impl>(std::move(ex), opts)) {}

Http1ClientPool::~Http1ClientPool() {
  impl_->conns.close_all();
  impl_->stop_watching();
}

void Http1ClientPool::post(const Http1Target& t, std::string_view path, const HeaderList& headers,
                           std::string body, std::chrono::milliseconds timeout,
                           std::function<void(Http1Result)> done) {
  const http1::HeaderViews views = http1::header_views(headers);
  post(t, path, std::span(views.data(), views.size()), std::move(body), timeout, std::move(done));
}

void Http1ClientPool::post(const Http1Target& t, std::string_view path,
                           std::span<const http1::HeaderView> headers, std::string body,
                           std::chrono::milliseconds timeout,
                           std::function<void(Http1Result)> done) {
  auto op =
      std::make_shared<Op>(impl_, t, path, headers, std::move(body), timeout, std::move(done));
  // Started from the executor so that no path can call `done` inside post().
  asio::post(impl_->ex, [op] { op->start(); });
}

size_t Http1ClientPool::idle_connections() const { return impl_->conns.idle(); }

size_t Http1ClientPool::connections_opened() const { return impl_->opened; }

}  // namespace ptp
