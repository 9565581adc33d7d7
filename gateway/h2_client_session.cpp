#include "gateway/h2_client_session.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cstring>

#include "codecs/grpc_frame.h"
#include "codecs/proto_codec.h"

namespace ptp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct H2ClientSession::Stream {
  int32_t id = 0;
  UpstreamHandler handler;
  std::shared_ptr<BodyPipe> body;
  bool grpc_chunks = false;
  std::string out;
  size_t out_off = 0;
  int status = 0;
  HeaderList headers;
  HeaderList trailers;
  bool headers_done = false;
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

// Connection attempt state shared by the timer and the socket handlers.
struct Connecting {
  Connecting(asio::any_io_executor ex) : socket(ex), resolver(ex), timer(ex) {}
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;
  H2ClientSession::Options opts;
  H2ClientSession::ConnectCallback cb;
  bool done = false;
  std::unique_ptr<TlsStream> tls;

  void finish(std::unique_ptr<ByteStream> io, Status st) {
    if (done) return;
    done = true;
    timer.cancel();
    if (!st.ok()) {
      boost::system::error_code ec;
      socket.close(ec);
      if (tls) tls->next_layer().close(ec);
      cb(nullptr, std::move(st));
      return;
    }
    auto s = std::make_shared<H2ClientSession>(std::move(io), opts);
    s->begin();
    cb(std::move(s), Status::Ok());
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
    c->finish(nullptr, Status::Error(Code::kUnreachable,
                                     "connect to " + where + " timed out after " +
                                         std::to_string(c->opts.connect_timeout.count()) + " ms"));
  });
  c->resolver.async_resolve(
      c->opts.endpoint.host, std::to_string(c->opts.endpoint.port),
      [c, where](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        if (c->done) return;
        if (ec) {
          c->finish(nullptr, Status::Error(Code::kBadAddress,
                                           "cannot resolve " + where + ": " + ec.message()));
          return;
        }
        asio::async_connect(
            c->socket, results,
            [c, where](const boost::system::error_code& ec, const tcp::endpoint&) {
              if (c->done) return;
              if (ec) {
                c->finish(nullptr,
                          Status::Error(Code::kUnreachable,
                                        "connect to " + where + " failed: " + ec.message()));
                return;
              }
              c->socket.set_option(tcp::no_delay(true));
              if (!c->opts.tls) {
                c->finish(std::make_unique<ByteStreamOf<tcp::socket>>(std::move(c->socket)),
                          Status::Ok());
                return;
              }
              c->tls = std::make_unique<TlsStream>(std::move(c->socket), *c->opts.tls);
              const std::string& sni =
                  c->opts.server_name.empty() ? c->opts.endpoint.host : c->opts.server_name;
              SSL_set_tlsext_host_name(c->tls->native_handle(), sni.c_str());
              SSL_set1_host(c->tls->native_handle(), sni.c_str());
              static const unsigned char kAlpn[] = {2, 'h', '2'};
              SSL_set_alpn_protos(c->tls->native_handle(), kAlpn, sizeof kAlpn);
              c->tls->async_handshake(
                  asio::ssl::stream_base::client, [c, where](const boost::system::error_code& ec) {
                    if (c->done) return;
                    if (ec) {
                      c->finish(nullptr,
                                Status::Error(Code::kCertCheck, "TLS handshake with " + where +
                                                                    " failed: " + ec.message()));
                      return;
                    }
                    const unsigned char* proto = nullptr;
                    unsigned len = 0;
                    SSL_get0_alpn_selected(c->tls->native_handle(), &proto, &len);
                    if (len != 2 || std::memcmp(proto, "h2", 2) != 0) {
                      c->finish(nullptr, Status::Error(Code::kIncompatible,
                                                       where + " did not negotiate h2 by ALPN"));
                      return;
                    }
                    c->finish(std::make_unique<ByteStreamOf<TlsStream>>(std::move(*c->tls)),
                              Status::Ok());
                  });
            });
      });
}

H2ClientSession::H2ClientSession(std::unique_ptr<ByteStream> io, Options opts)
    : H2Connection(std::move(io)), opts_(std::move(opts)), keepalive_timer_(executor()) {
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
  nghttp2_session* raw = nullptr;
  nghttp2_session_client_new2(&raw, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  session_.reset(raw);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1u << 16},
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

int32_t H2ClientSession::submit(const HeaderList& headers, std::shared_ptr<BodyPipe> body,
                                bool grpc_chunks, UpstreamHandler handler) {
  auto nv = make_nv(headers);
  nghttp2_data_provider prd{};
  prd.read_callback = cb_read;
  int32_t id = nghttp2_submit_request(session(), nullptr, nv.data(), nv.size(), &prd, nullptr);
  if (id <= 0) return id;
  auto s = std::make_unique<Stream>();
  s->id = id;
  s->handler = std::move(handler);
  s->body = std::move(body);
  s->grpc_chunks = grpc_chunks;
  std::weak_ptr<H2Connection> weak = weak_from_this();
  s->body->set_on_readable([weak, id] {
    auto self = weak.lock();
    if (!self || self->closed()) return;
    nghttp2_session_resume_data(self->session(), id);
    self->signal_write();
  });
  streams_.emplace(id, std::move(s));
  signal_write();
  return id;
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
  auto& pipe = *s->body;
  if (s->out_off == s->out.size()) {
    s->out.clear();
    s->out_off = 0;
    if (s->grpc_chunks) {
      std::string chunk;
      if (pipe.read_chunk(chunk)) {
        Envelope e;
        e.body = std::move(chunk);
        s->out = grpc_frame(encode_inbound(e));
      }
    } else {
      size_t n = pipe.read(reinterpret_cast<char*>(buf), len);
      if (n > 0) return static_cast<ssize_t>(n);
    }
  }
  size_t n = 0;
  if (s->out_off < s->out.size()) {
    n = std::min(len, s->out.size() - s->out_off);
    std::memcpy(buf, s->out.data() + s->out_off, n);
    s->out_off += n;
  }
  if (s->out_off < s->out.size() || !pipe.drained())
    return n > 0 ? static_cast<ssize_t>(n) : static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED);
  if (!pipe.status().ok()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // abort upstream
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int H2ClientSession::on_header(const nghttp2_frame* f, std::string_view name,
                               std::string_view value) {
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  Stream* s = find(f->hd.stream_id);
  if (!s) return 0;
  if (f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    if (name == ":status") {
      s->status = 0;
      for (char c : value) s->status = s->status * 10 + (c - '0');
    } else {
      s->headers.emplace_back(name, value);
    }
  } else if (f->headers.cat == NGHTTP2_HCAT_HEADERS) {
    // Trailers (or a non-final 1xx response's successor: treat as trailers once headers are done).
    if (s->headers_done)
      s->trailers.emplace_back(name, value);
    else if (name == ":status") {
      s->status = 0;
      for (char c : value) s->status = s->status * 10 + (c - '0');
    } else {
      s->headers.emplace_back(name, value);
    }
  }
  return 0;
}

int H2ClientSession::on_frame_recv(const nghttp2_frame* f) {
  switch (f->hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* s = find(f->hd.stream_id);
      if (s && !s->headers_done && s->status >= 200) {
        s->headers_done = true;
        if (s->handler.on_headers) s->handler.on_headers(s->status, std::move(s->headers));
      }
      break;
    }
    case NGHTTP2_PING:
      if (f->hd.flags & NGHTTP2_FLAG_ACK) ping_outstanding_ = false;
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
  if (!s || !s->handler.on_data) {
    nghttp2_session_consume(session(), id, len);
    return 0;
  }
  s->handler.on_data({reinterpret_cast<const char*>(data), len});
  return 0;
}

int H2ClientSession::on_stream_close(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  auto s = std::move(it->second);
  streams_.erase(it);
  if (!s->headers_done && s->status >= 200 && s->handler.on_headers) {
    s->headers_done = true;
    s->handler.on_headers(s->status, std::move(s->headers));
  }
  if (s->handler.on_close) s->handler.on_close(std::move(s->trailers), error_code);
  if (!s->body->drained()) s->body->cancel();
  return 0;
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
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    HeaderList t{{"x-ptp-connection-error", why}};
    if (s->handler.on_close) s->handler.on_close(std::move(t), NGHTTP2_CONNECT_ERROR);
    if (!s->body->drained()) s->body->cancel();
  }
  if (on_closed_) on_closed_(why);
}

}  // namespace ptp
