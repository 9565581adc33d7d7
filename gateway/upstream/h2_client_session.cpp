#include "gateway/upstream/h2_client_session.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cstring>
#include <utility>

#include "codecs/grpc_frame.h"
#include "codecs/proto_codec.h"
#include "gateway/exchange/body_pump.h"
#include "gateway/upstream/pinned_peer.h"

namespace ptp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct H2ClientSession::Stream {
  int32_t id = 0;
  std::unique_ptr<UpstreamObserver> observer;
  std::shared_ptr<BodyPipe> body;  // streamed requests only
  BodyPump pump;
  int status = 0;
  HeaderList headers;
  HeaderList trailers;
  bool headers_done = false;
  uint64_t head_bytes = 0;     // counted against Options::max_answer_header_bytes
  uint64_t trailer_bytes = 0;  // the same, for the trailers
  bool oversized = false;      // one of them passed it: the stream is being reset
};

namespace {

H2ClientSession* self_of(void* u) { return static_cast<H2ClientSession*>(u); }

int cb_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* u) {
  return self_of(u)->on_header(f, {reinterpret_cast<const char*>(name), namelen},
                               {reinterpret_cast<const char*>(value), valuelen});
}
int cb_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* u) {
  return self_of(u)->on_frame_recv(f);
}
int cb_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
  return self_of(u)->on_data(id, data, len);
}
int cb_stream_close(nghttp2_session*, int32_t id, uint32_t ec, void* u) {
  return self_of(u)->on_stream_close(id, ec);
}
ssize_t cb_read(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                nghttp2_data_source*, void* u) {
  return self_of(u)->read_body(id, buf, len, flags);
}

// A TLS stream that reports the outcome of its first read. With TLS 1.3 the client's
// handshake completes before the server has checked the client certificate; a server
// that rejects it answers with an alert instead of its first bytes (the HTTP/2
// SETTINGS), so a TLS connection counts as established only once the server has spoken.
class FirstReadProbe final : public ByteStream {
 public:
  using Done = std::function<void(const boost::system::error_code&)>;
  FirstReadProbe(TlsStream s, Done on_first)
      : inner_(std::move(s)), on_first_(std::move(on_first)) {}
  void async_read_some(asio::mutable_buffer buf, IoHandler h) override {
    if (!on_first_) return inner_.async_read_some(buf, std::move(h));
    inner_.async_read_some(
        buf, [this, h = std::move(h)](const boost::system::error_code& ec, size_t n) {
          Done first = std::move(on_first_);
          on_first_ = nullptr;
          h(ec, n);  // feeds the session (which owns *this: do not touch members after it)
          if (first) first(ec);
        });
  }
  void async_write(asio::const_buffer buf, IoHandler h) override {
    inner_.async_write(buf, std::move(h));
  }
  void close() override { inner_.close(); }
  asio::any_io_executor executor() override { return inner_.executor(); }

 private:
  ByteStreamOf<TlsStream> inner_;
  Done on_first_;
};

// ": <why>" when the peer's certificate failed verification (wrong CA, name, expiry).
std::string verify_reason(TlsStream& s) {
  long r = SSL_get_verify_result(s.native_handle());
  return r == X509_V_OK ? std::string() : " (" + tls_verify_text(r) + ")";
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Connection attempt state shared by the timer and the socket handlers.
struct Connecting : std::enable_shared_from_this<Connecting> {
  Connecting(asio::any_io_executor ex) : socket(ex), resolver(ex), timer(ex) {}
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;
  H2ClientSession::Options opts;
  H2ClientSession::ConnectCallback cb;
  bool done = false;
  std::unique_ptr<TlsStream> tls;
  std::weak_ptr<H2ClientSession> pending;  // TLS: session waiting for the server's first bytes

  void fail(Status st) {
    if (done) return;
    done = true;
    timer.cancel();
    boost::system::error_code ec;
    socket.close(ec);
    if (tls) tls->next_layer().close(ec);
    if (auto s = pending.lock()) s->terminate(st.message);
    cb(nullptr, std::move(st));
  }

  void succeed(std::shared_ptr<H2ClientSession> s) {
    if (done) return;
    done = true;
    timer.cancel();
    cb(std::move(s), Status::Ok());
  }

  void start_plain() {
    auto s = std::make_shared<H2ClientSession>(
        std::make_unique<ByteStreamOf<tcp::socket>>(std::move(socket)), opts);
    s->begin();
    succeed(std::move(s));
  }

  void start_tls(const std::string& where) {
    const bool has_client_cert = SSL_CTX_get0_certificate(opts.tls->native_handle()) != nullptr;
    auto self = shared_from_this();
    auto on_first = [self, where, has_client_cert](const boost::system::error_code& ec) {
      auto s = self->pending.lock();
      if (!ec && s && !s->closed()) return self->succeed(std::move(s));
      if (ec.category() == asio::error::get_ssl_category()) {
        return self->fail(Status::Error(
            Code::kCertCheck,
            "TLS with " + where +
                " failed: the peer rejected the connection after the handshake (" + ec.message() +
                ")" +
                (has_client_cert
                     ? ""
                     : "; no client certificate is configured (peers[].tls.cert/key)")));
      }
      self->fail(Status::Error(Code::kUnreachable,
                               where + " closed the connection before sending HTTP/2 settings" +
                                   (ec ? ": " + ec.message() : std::string())));
    };
    auto s = std::make_shared<H2ClientSession>(
        std::make_unique<FirstReadProbe>(std::move(*tls), std::move(on_first)), opts);
    pending = s;
    s->begin();  // sends our preface at once: no waiting on servers that wait for it
  }
};

}  // namespace

void H2ClientSession::connect(asio::any_io_executor ex, Options opts, ConnectCallback cb) {
  auto c = std::make_shared<Connecting>(ex);
  c->opts = std::move(opts);
  c->cb = std::move(cb);
  const std::string where = c->opts.endpoint.to_string();
  c->timer.expires_after(c->opts.connect_timeout);
  c->timer.async_wait([c, where](const boost::system::error_code& ec) {
    if (ec) return;
    c->fail(Status::Error(Code::kUnreachable, "connect to " + where + " timed out after " +
                                                  std::to_string(c->opts.connect_timeout.count()) +
                                                  " ms"));
  });
  c->resolver.async_resolve(
      c->opts.endpoint.host, std::to_string(c->opts.endpoint.port),
      [c, where](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        if (c->done) return;
        if (ec) {
          c->fail(
              Status::Error(Code::kBadAddress, "cannot resolve " + where + ": " + ec.message()));
          return;
        }
        asio::async_connect(
            c->socket, results,
            [c, where](const boost::system::error_code& ec, const tcp::endpoint&) {
              if (c->done) return;
              if (ec) {
                c->fail(Status::Error(Code::kUnreachable,
                                      "connect to " + where + " failed: " + ec.message()));
                return;
              }
              c->socket.set_option(tcp::no_delay(true));
              if (!c->opts.tls) return c->start_plain();
              c->tls = std::make_unique<TlsStream>(std::move(c->socket), *c->opts.tls);
              const std::string& sni =
                  c->opts.server_name.empty() ? c->opts.endpoint.host : c->opts.server_name;
              if (!is_ip_literal(sni))  // RFC 6066: SNI carries host names only
                SSL_set_tlsext_host_name(c->tls->native_handle(), sni.c_str());
              SSL_set1_host(c->tls->native_handle(), sni.c_str());  // IP literals: IP SAN
              static const unsigned char kAlpn[] = {2, 'h', '2'};
              SSL_set_alpn_protos(c->tls->native_handle(), kAlpn, sizeof kAlpn);
              c->tls->async_handshake(
                  asio::ssl::stream_base::client, [c, where](const boost::system::error_code& ec) {
                    if (c->done) return;
                    if (ec) {
                      c->fail(Status::Error(Code::kCertCheck, "TLS handshake with " + where +
                                                                  " failed: " + ec.message() +
                                                                  verify_reason(*c->tls)));
                      return;
                    }
                    const unsigned char* proto = nullptr;
                    unsigned len = 0;
                    SSL_get0_alpn_selected(c->tls->native_handle(), &proto, &len);
                    if (len != 2 || std::memcmp(proto, "h2", 2) != 0) {
                      c->fail(Status::Error(Code::kIncompatible,
                                            where + " did not negotiate h2 by ALPN"));
                      return;
                    }
                    c->start_tls(where);
                  });
            });
      });
}

H2ClientSession::H2ClientSession(std::unique_ptr<ByteStream> io, Options opts)
    : H2Connection(std::move(io)),
      opts_(std::move(opts)),
      authority_(opts_.endpoint.to_string()),
      keepalive_timer_(executor()),
      deadlines_([this](int32_t id) { return streams_.contains(id); }),
      deadline_timer_(executor()) {
  init_session();
}

H2ClientSession::~H2ClientSession() = default;

void H2ClientSession::init_session() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_no_closed_streams(opt, 1);
  // Batch statements (kPeerHeaderTableBytes): indexed when the server allows a table this big.
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, kPeerHeaderTableBytes);
  nghttp2_session* raw = nullptr;
  nghttp2_session_client_new2(&raw, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  session_.reset(raw);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1u << 16},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, kPeerHeaderTableBytes},
  };
  nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  nghttp2_session_set_local_window_size(raw, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

bool H2ClientSession::usable() const {
  if (closed() || goaway_) return false;
  return streams_.size() <
         nghttp2_session_get_remote_settings(session(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

H2ClientSession::Stream* H2ClientSession::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int32_t H2ClientSession::start(std::span<const nghttp2_nv> headers, std::unique_ptr<Stream> s,
                               std::unique_ptr<UpstreamObserver>& observer) {
  nghttp2_data_provider prd{};
  prd.read_callback = cb_read;
  int32_t id =
      nghttp2_submit_request(session(), nullptr, headers.data(), headers.size(), &prd, nullptr);
  if (id <= 0) return id;
  s->id = id;
  s->observer = std::move(observer);
  streams_.emplace(id, std::move(s));
  signal_write();
  return id;
}

int32_t H2ClientSession::submit(std::span<const nghttp2_nv> headers, std::string body,
                                std::chrono::milliseconds timeout,
                                std::unique_ptr<UpstreamObserver>& observer) {
  auto s = std::make_unique<Stream>();
  s->pump.set_whole(std::move(body));
  int32_t id = start(headers, std::move(s), observer);
  if (id > 0 && timeout.count() > 0) watch_deadline(id, timeout);
  return id;
}

int32_t H2ClientSession::submit(std::span<const nghttp2_nv> headers, std::shared_ptr<BodyPipe> body,
                                bool grpc_chunks, std::unique_ptr<UpstreamObserver>& observer) {
  auto s = std::make_unique<Stream>();
  BodyPump::Framer framer;
  if (grpc_chunks)
    framer = [](std::string chunk) {
      Envelope e;
      e.body = std::move(chunk);
      return grpc_frame(encode_inbound(e));
    };
  s->body = body;
  s->pump = BodyPump(std::move(body), std::move(framer));
  BodyPipe* pipe = s->body.get();
  int32_t id = start(headers, std::move(s), observer);
  if (id <= 0) return id;
  std::weak_ptr<H2Connection> weak = weak_from_this();
  pipe->set_on_readable([weak, id] {
    auto self = weak.lock();
    if (!self || self->closed()) return;
    nghttp2_session_resume_data(self->session(), id);
    self->signal_write();
  });
  return id;
}

void H2ClientSession::watch_deadline(int32_t id, std::chrono::milliseconds timeout) {
  auto now = DeadlineQueue::Clock::now();
  deadlines_.add(id, timeout, now);
  if (!deadline_armed_ || now + timeout < deadline_at_) arm_deadline_timer(now + timeout);
}

void H2ClientSession::arm_deadline_timer(DeadlineQueue::Clock::time_point at) {
  deadline_armed_ = true;
  deadline_at_ = at;
  deadline_timer_.expires_at(at);  // cancels a wait armed for a later deadline
  std::weak_ptr<H2Connection> weak = weak_from_this();
  deadline_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto base = weak.lock();
    if (ec || !base || base->closed()) return;
    std::static_pointer_cast<H2ClientSession>(base)->on_deadlines();
  });
}

void H2ClientSession::on_deadlines() {
  deadline_armed_ = false;
  std::vector<int32_t> due;
  deadlines_.take_expired(DeadlineQueue::Clock::now(), due);
  for (int32_t id : due) {
    Stream* s = find(id);
    if (!s) continue;  // an earlier observer's answer may have closed it
    s->observer->on_timeout();
    reset(id);
  }
  if (closed()) return;
  if (auto next = deadlines_.earliest()) arm_deadline_timer(*next);
}

void H2ClientSession::begin() {
  start_io({});
  arm_keepalive();
}

void H2ClientSession::consume(int32_t id, size_t n) {
  if (closed()) return;
  if (find(id))
    nghttp2_session_consume(session(), id, n);
  else
    nghttp2_session_consume_connection(session(), n);
  signal_write();
}

void H2ClientSession::reset(int32_t id) {
  if (closed()) return;
  nghttp2_submit_rst_stream(session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  signal_write();
}

ssize_t H2ClientSession::read_body(int32_t id, uint8_t* buf, size_t len, uint32_t* flags) {
  Stream* s = find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  BodyPump::State state;
  size_t n = s->pump.pull(buf, len, state);
  if (state == BodyPump::State::kWait) return NGHTTP2_ERR_DEFERRED;
  if (state == BodyPump::State::kMore) return static_cast<ssize_t>(n);
  if (s->body && !s->body->status().ok())
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // abort upstream
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (s->body && !s->body->trailers().empty()) {
    // The pipe's trailers (a signed stream's x-ptp-signature) end the stream.
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    auto nv = make_nv(s->body->trailers());
    nghttp2_submit_trailer(session(), id, nv.data(), nv.size());
  }
  return static_cast<ssize_t>(n);
}

int H2ClientSession::on_header(const nghttp2_frame* f, std::string_view name,
                               std::string_view value) {
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  Stream* s = find(f->hd.stream_id);
  if (!s || s->oversized) return 0;
  const bool head = f->headers.cat == NGHTTP2_HCAT_RESPONSE ||
                    // a non-final 1xx response's successor; after the head: trailers
                    (f->headers.cat == NGHTTP2_HCAT_HEADERS && !s->headers_done);
  if (!head && f->headers.cat != NGHTTP2_HCAT_HEADERS) return 0;
  uint64_t& bytes = head ? s->head_bytes : s->trailer_bytes;
  bytes += name.size() + value.size() + 32;
  if (bytes > opts_.max_answer_header_bytes) return refuse_oversized_head(*s, !head);
  if (head && name == ":status") {
    s->status = 0;
    for (char c : value) s->status = s->status * 10 + (c - '0');
    return 0;
  }
  if (!s->observer->wants_header(name)) return 0;
  HeaderList& list = head ? s->headers : s->trailers;
  if (list.empty()) list.reserve(16, 1024);  // room for the headers an answer has
  list.emplace_back(name, value);
  return 0;
}

int H2ClientSession::refuse_oversized_head(Stream& s, bool trailers) {
  s.oversized = true;
  s.headers = HeaderList();  // gives the memory back
  s.trailers = HeaderList();
  s.observer->on_head_too_large(trailers, opts_.max_answer_header_bytes);
  reset(s.id);
  // nghttp2 passes no more of this header block (it still decodes it, for HPACK's state).
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

int H2ClientSession::on_frame_recv(const nghttp2_frame* f) {
  switch (f->hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* s = find(f->hd.stream_id);
      if (!s || s->oversized || s->headers_done) break;
      if (s->status >= 200) {
        s->headers_done = true;
        s->observer->on_headers(s->status, std::move(s->headers));
      } else {
        s->headers.clear();  // a 1xx head's fields are not the answer's (its bytes count)
      }
      break;
    }
    case NGHTTP2_PING:
      if (f->hd.flags & NGHTTP2_FLAG_ACK) {
        ping_outstanding_ = false;
        if (auto ack = std::exchange(on_ping_ack_, nullptr)) ack();
      }
      break;
    case NGHTTP2_GOAWAY:
      goaway_ = true;
      break;
    default:
      break;
  }
  return 0;
}

int H2ClientSession::on_data(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = find(id);
  if (!s || s->oversized) {
    nghttp2_session_consume(session(), id, len);
    return 0;
  }
  s->observer->on_data({reinterpret_cast<const char*>(data), len});
  return 0;
}

int H2ClientSession::on_stream_close(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  auto s = std::move(it->second);
  streams_.erase(it);
  if (!s->headers_done && !s->oversized && s->status >= 200) {
    s->headers_done = true;
    s->observer->on_headers(s->status, std::move(s->headers));
  }
  s->observer->on_close(std::move(s->trailers), error_code);
  if (s->body && !s->body->drained()) s->body->cancel();
  return 0;
}

void H2ClientSession::ping(std::function<void()> on_ack) {
  if (closed()) return;
  on_ping_ack_ = std::move(on_ack);
  ping_outstanding_ = true;
  nghttp2_submit_ping(session(), NGHTTP2_FLAG_NONE, nullptr);
  signal_write();
}

void H2ClientSession::arm_keepalive() {
  if (opts_.keepalive.count() <= 0) return;
  keepalive_timer_.expires_after(opts_.keepalive);
  std::weak_ptr<H2Connection> weak = weak_from_this();
  keepalive_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto base = weak.lock();
    if (ec || !base || base->closed()) return;
    auto self = std::static_pointer_cast<H2ClientSession>(base);
    if (self->ping_outstanding_) {
      self->terminate("keepalive PING not acknowledged within " +
                      std::to_string(self->opts_.keepalive.count()) + " ms");
      return;
    }
    self->ping_outstanding_ = true;
    nghttp2_submit_ping(self->session(), NGHTTP2_FLAG_NONE, nullptr);
    self->signal_write();
    self->arm_keepalive();
  });
}

void H2ClientSession::on_connection_closed(const std::string& why) {
  keepalive_timer_.cancel();
  deadline_timer_.cancel();
  deadlines_.clear();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    HeaderList t{{"x-ptp-connection-error", why}};
    s->observer->on_close(std::move(t), NGHTTP2_CONNECT_ERROR);
    if (s->body && !s->body->drained()) s->body->cancel();
  }
  if (on_closed_) on_closed_(why);
}

}  // namespace ptp
