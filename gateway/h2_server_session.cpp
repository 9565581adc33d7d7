#include "gateway/h2_server_session.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/container/small_vector.hpp>
#include <cstring>

#include "codecs/header_codec.h"
#include "codecs/proto_codec.h"
#include "gateway/body_pump.h"
#include "gateway/grpc_messages.h"
#include "gateway/grpc_paths.h"
#include "gateway/http_mapping.h"

namespace ptp {

struct H2ServerSession::Stream {
  int32_t id = 0;
  Request req;  // its envelope holds the PTP header fields, decoded as they arrive
  HeaderDecodeState header_state;
  std::string method, path, content_type;
  uint64_t header_bytes = 0;
  bool header_overflow = false;
  std::optional<Interface> iface;
  bool grpc = false;
  bool streamed = false;
  bool rejected = false;  // an error response was already sent
  bool dispatched = false;
  std::string body;                         // unary request body (raw wire bytes)
  std::shared_ptr<BodyPipe> req_pipe;       // streamed request body
  std::unique_ptr<GrpcFrameParser> parser;  // streamed gRPC request
  uint64_t unconsumed = 0;                  // received bytes not yet credited to the window
  uint32_t progress_tick = 0;               // watchdog tick of the last byte in or out; 0: none

  // Response side: what outlives submitting the response headers.
  bool responded = false;
  std::shared_ptr<BodyPipe> response_stream;  // streamed response body
  std::shared_ptr<DeliveryReceipt> delivery;  // settled when the response went out whole
  BodyPump pump;                              // the response body
};

namespace {

H2ServerSession* self_of(void* user_data) { return static_cast<H2ServerSession*>(user_data); }

int cb_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* u) {
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return self_of(u)->on_begin_headers(f->hd.stream_id);
}
int cb_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* u) {
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  return self_of(u)->on_header(f->hd.stream_id, {reinterpret_cast<const char*>(name), namelen},
                               {reinterpret_cast<const char*>(value), valuelen});
}
int cb_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* u) {
  return self_of(u)->on_frame_recv(f);
}
int cb_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
  return self_of(u)->on_data(id, data, len);
}
int cb_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* u) {
  return self_of(u)->on_stream_close(id, error_code);
}
ssize_t cb_read(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                nghttp2_data_source*, void* u) {
  return self_of(u)->read_body(id, buf, len, flags);
}

}  // namespace

std::shared_ptr<H2ServerSession> H2ServerSession::start(std::unique_ptr<ByteStream> io,
                                                        std::string_view already_read,
                                                        Dispatcher& dispatcher,
                                                        H2ServerSettings settings,
                                                        std::string remote) {
  auto s = std::make_shared<H2ServerSession>(std::move(io), dispatcher, std::move(settings),
                                             std::move(remote));
  s->init_session();
  s->start_io(already_read);
  return s;
}

H2ServerSession::H2ServerSession(std::unique_ptr<ByteStream> io, Dispatcher& d, H2ServerSettings s,
                                 std::string remote)
    : H2Connection(std::move(io)),
      dispatcher_(d),
      settings_(std::move(s)),
      remote_(std::move(remote)) {}

H2ServerSession::~H2ServerSession() = default;

void H2ServerSession::init_session() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, cb_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // We credit the receive window ourselves, only for bytes passed on (end-to-end flow control).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // Closed streams are not kept for an RFC 7540 priority tree (see the settings below).
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_session* raw = nullptr;
  nghttp2_session_server_new2(&raw, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  session_.reset(raw);

  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1u << 16},
      // RFC 9218: no RFC 7540 dependency tree; streams are scheduled by urgency.
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  nghttp2_session_set_local_window_size(raw, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

void H2ServerSession::drain_gracefully() {
  if (closed() || draining_) return;
  draining_ = true;
  // Once it is sent and the streams up to that id are done, nghttp2 wants neither to read
  // nor to write, and H2Connection::do_write closes the connection.
  nghttp2_submit_goaway(session(), NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session()), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  signal_write();
}

H2ServerSession::Stream* H2ServerSession::find(int32_t id) {
  // A request's callbacks (begin, each header, frame, data) come one after another.
  if (last_ && last_->id == id) return last_;
  auto it = streams_.find(id);
  if (it == streams_.end()) return nullptr;
  last_ = it->second.get();
  return last_;
}

int H2ServerSession::on_begin_headers(int32_t id) {
  auto s = std::make_unique<Stream>();
  s->id = id;
  streams_.emplace(id, std::move(s));
  return 0;
}

int H2ServerSession::on_header(int32_t id, std::string_view name, std::string_view value) {
  Stream* s = find(id);
  if (!s) return 0;
  s->header_bytes += name.size() + value.size() + 32;
  if (s->header_bytes > settings_.max_header_bytes) {
    s->header_overflow = true;
    return 0;
  }
  if (name == ":method")
    s->method = value;
  else if (name == ":path")
    s->path = value;
  else if (name == "content-type")
    s->content_type = value;
  if (!name.starts_with(':')) decode_header(name, value, s->req.env, s->header_state);
  return 0;
}

int H2ServerSession::on_frame_recv(const nghttp2_frame* f) {
  Stream* s = find(f->hd.stream_id);
  if (!s) return 0;
  bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
    request_complete_headers(*s);
    s = find(f->hd.stream_id);
  }
  if (!s || s->rejected) return 0;
  if (end) {
    if (s->streamed) {
      if (s->parser && !s->parser->idle())
        s->req_pipe->finish(Status::Error(
            Code::kCodecError, "truncated gRPC frame at end of stream", settings_.node_id));
      else
        s->req_pipe->finish();
    } else if (!s->dispatched) {
      dispatch(*s);
    }
  }
  return 0;
}

void H2ServerSession::request_complete_headers(Stream& s) {
  s.grpc = s.content_type.starts_with("application/grpc");
  if (s.header_overflow) {
    respond_error(s, Status::Error(Code::kBadRequest,
                                   "request headers exceed " +
                                       std::to_string(settings_.max_header_bytes) + " bytes",
                                   settings_.node_id));
    return;
  }
  s.iface = s.grpc ? grpc_interface_for_path(s.path) : interface_for_path(s.path);
  if (!s.iface) {
    respond_error(
        s, Status::Error(Code::kNotFound, "no PTP interface at path " + s.path, settings_.node_id));
    return;
  }
  if (s.method != "POST") {
    respond_error(s,
                  Status::Error(Code::kBadRequest, "method " + s.method + " not allowed, use POST",
                                settings_.node_id));
    return;
  }
  if (*s.iface == Interface::kTransport) {
    // Streamed: dispatch now, the body follows through the pipe.
    s.streamed = true;
    s.req_pipe = std::make_shared<BodyPipe>();
    if (s.grpc) s.parser = std::make_unique<GrpcFrameParser>(settings_.max_body_bytes);
    std::weak_ptr<H2Connection> weak = weak_from_this();
    int32_t id = s.id;
    s.req_pipe->set_on_consumed([weak, id](size_t n) {
      auto self = std::static_pointer_cast<H2ServerSession>(weak.lock());
      if (!self || self->closed()) return;
      Stream* st = self->find(id);
      if (!st) return;
      size_t credit =
          st->req_pipe->buffered() == 0 ? st->unconsumed : std::min<uint64_t>(n, st->unconsumed);
      if (credit == 0) return;
      st->unconsumed -= credit;
      nghttp2_session_consume(self->session(), id, credit);
      self->signal_write();
    });
    dispatch(s);
  }
}

int H2ServerSession::on_data(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = find(id);
  if (s) s->progress_tick = tick();
  if (!s || s->rejected || !s->streamed) {
    // Unary bodies are buffered here, so their window is credited at once.
    nghttp2_session_consume(session(), id, len);
    if (!s || s->rejected) return 0;
    if (s->body.size() + len > settings_.max_body_bytes) {
      respond_error(*s, Status::Error(Code::kTooLarge,
                                      "request body exceeds " +
                                          std::to_string(settings_.max_body_bytes) + " bytes",
                                      settings_.node_id));
      return 0;
    }
    s->body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  std::string_view chunk(reinterpret_cast<const char*>(data), len);
  if (s->req_pipe->finished() || s->req_pipe->cancelled()) {
    nghttp2_session_consume(session(), id, len);
    return 0;
  }
  s->unconsumed += len;
  if (!s->parser) {
    s->req_pipe->write(std::string(chunk));
    return 0;
  }
  std::vector<std::string> messages;
  Status st = s->parser->feed(chunk, messages);
  for (auto& m : messages) {
    Envelope e;
    Status ds = decode_inbound(m, e);
    if (!ds.ok()) {
      st = ds;
      break;
    }
    s->req_pipe->write(std::move(e.body));
  }
  if (!st.ok()) {
    st.hop = settings_.node_id;
    s->req_pipe->finish(st);
  }
  return 0;
}

void H2ServerSession::dispatch(Stream& s) {
  s.dispatched = true;
  Request& req = s.req;  // handed on by rvalue below: nothing is copied or moved
  req.iface = *s.iface;
  req.wire = s.grpc ? WireProtocol::kGrpc : WireProtocol::kHttp2;
  req.remote = remote_;
  if (auto q = s.path.find('?'); q != std::string::npos) req.query = s.path.substr(q + 1);
  Status st = std::move(s.header_state.error);
  if (st.ok() && s.grpc && !s.streamed) {
    // Unary gRPC: exactly one length-prefixed Inbound message.
    GrpcFrameParser parser(settings_.max_body_bytes + 5);
    std::vector<std::string> messages;
    st = parser.feed(s.body, messages);
    if (st.ok() && (messages.size() != 1 || !parser.idle()))
      st = Status::Error(Code::kCodecError,
                         "unary gRPC request must carry exactly one complete message, got " +
                             std::to_string(messages.size()));
    if (st.ok() && req.iface != Interface::kInvoke) {
      req.env.body = std::move(messages[0]);  // PushInbound etc.: the queue codec decodes it
    } else if (st.ok()) {
      Envelope inner;
      st = decode_inbound(messages[0], inner);
      if (st.ok()) merge_envelope(req.env, std::move(inner));
    }
  } else if (st.ok()) {
    req.env.body = std::move(s.body);
  }
  if (!s.grpc) req.env.content_type = s.content_type;
  if (!st.ok()) {
    st.hop = settings_.node_id;
    respond_error(s, std::move(st));
    return;
  }
  req.stream = s.req_pipe;
  std::weak_ptr<H2Connection> weak = weak_from_this();
  int32_t id = s.id;
  dispatcher_.dispatch(std::move(req), [weak, id](Response&& r) {
    auto self = std::static_pointer_cast<H2ServerSession>(weak.lock());
    if (!self || self->closed()) {
      if (r.stream) r.stream->cancel();
      return;
    }
    self->respond(id, std::move(r));
  });
}

void H2ServerSession::respond(int32_t id, Response&& r) {
  Stream* s = find(id);
  if (!s || s->responded) {
    if (r.stream) r.stream->cancel();
    return;
  }
  submit_response(*s, r);
}

void H2ServerSession::respond_error(Stream& s, Status st) {
  s.rejected = true;
  if (s.req_pipe && !s.req_pipe->finished()) s.req_pipe->finish(st);
  if (s.responded) return;
  Response r = error_response(std::move(st));
  submit_response(s, r);
}

void H2ServerSession::submit_response(Stream& s, Response& r) {
  s.responded = true;
  s.response_stream = r.stream;
  s.delivery = std::move(r.delivery);
  // Views into r and the scratch strings: nghttp2 copies them during the submit call
  // (names only when not static).
  boost::container::small_vector<nghttp2_nv, 24> nv;
  auto add = [&nv](std::string_view name, std::string_view value, bool name_is_static) {
    nv.push_back(name_is_static ? nv_of_static_name(name, value) : nv_of(name, value));
  };
  const std::string status = std::to_string(s.grpc ? 200 : response_http_status(r));
  add(":status", status, true);
  ResponseHeaderScratch scratch;
  bool has_body = true;
  if (s.grpc) {
    add("content-type", "application/grpc", true);
    if (!r.env.status.ok()) {
      // Trailers-only response carrying the PTP status.
      HeaderList trailers = grpc_status_trailers(r.env.status);
      for (const auto& [k, v] : trailers) add(k, v, false);
      nghttp2_submit_response(session(), s.id, nv.data(), nv.size(), nullptr);
      signal_write();
      return;
    }
    for (const auto& [k, v] : r.extra_headers)
      if (k != "content-type") add(k, v, false);
    if (!r.stream)
      s.pump.set_whole(grpc_frame(r.grpc_message ? *r.grpc_message : outbound_message(r)));
  } else {
    bool typed = false;
    for_each_response_header(r, scratch, [&](std::string_view k, std::string_view v, bool st) {
      typed = typed || k == "content-type";
      add(k, v, st);
    });
    if (!typed)
      add("content-type", r.env.status.ok() ? "application/octet-stream" : "application/json",
          true);
    // Errors without a body of their own get the JSON error body.
    has_body = r.stream || !r.env.body.empty() || !r.env.status.ok();
    if (!r.stream)  // the views above do not point into the body
      s.pump.set_whole(r.env.status.ok() || !r.env.body.empty() ? std::move(r.env.body)
                                                                : error_body_json(r.env.status));
  }
  if (r.stream) start_stream_pump(s, r);
  nghttp2_data_provider prd{};
  prd.read_callback = cb_read;
  nghttp2_submit_response(session(), s.id, nv.data(), nv.size(), has_body ? &prd : nullptr);
  signal_write();
}

void H2ServerSession::start_stream_pump(Stream& s, Response& r) {
  BodyPump::Framer framer;
  if (s.grpc)
    framer = [](std::string chunk) {
      Response piece;
      piece.env.body = std::move(chunk);
      return grpc_frame(outbound_message(piece));
    };
  s.pump = BodyPump(r.stream, std::move(framer));
  std::weak_ptr<H2Connection> weak = weak_from_this();
  int32_t id = s.id;
  r.stream->set_on_readable([weak, id] {
    auto self = weak.lock();
    if (!self || self->closed()) return;
    nghttp2_session_resume_data(self->session(), id);
    self->signal_write();
  });
}

ssize_t H2ServerSession::read_body(int32_t id, uint8_t* buf, size_t len, uint32_t* flags) {
  Stream* s = find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  BodyPump::State state;
  size_t n = s->pump.pull(buf, len, state);
  if (n) s->progress_tick = tick();
  if (state == BodyPump::State::kWait) return NGHTTP2_ERR_DEFERRED;
  if (state == BodyPump::State::kMore) return static_cast<ssize_t>(n);
  // Everything is out: end the body (gRPC: with trailers carrying the final status).
  Status end_status = s->pump.pipe() ? s->pump.pipe()->status() : Status::Ok();
  if (!s->grpc && !end_status.ok()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (s->grpc) {
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    submit_grpc_trailers(*s, end_status);
  }
  return static_cast<ssize_t>(n);
}

void H2ServerSession::submit_grpc_trailers(Stream& s, const Status& st) {
  HeaderList t = grpc_status_trailers(st);
  auto nv = make_nv(t);
  nghttp2_submit_trailer(session(), s.id, nv.data(), nv.size());
}

int H2ServerSession::on_stream_close(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  Stream& s = *it->second;
  // A normal close after our END_STREAM: the whole response went to the connection.
  if (error_code == NGHTTP2_NO_ERROR && s.responded && s.delivery) s.delivery->settle(true);
  if (s.unconsumed) nghttp2_session_consume_connection(session(), s.unconsumed);
  if (s.req_pipe && !s.req_pipe->finished())
    s.req_pipe->finish(
        Status::Error(Code::kBadRequest, "client closed the stream early", settings_.node_id));
  if (s.response_stream) s.response_stream->cancel();
  // Deleting inside the callback is safe: nghttp2 no longer refers to the stream.
  if (last_ == &s) last_ = nullptr;  // (the calls above may have looked it up again)
  boost::asio::post(executor(), [owned = std::move(it->second)] {});
  streams_.erase(it);
  return 0;
}

void H2ServerSession::on_connection_closed(const std::string&) {
  for (auto& [id, s] : streams_) {
    if (s->req_pipe && !s->req_pipe->finished())
      s->req_pipe->finish(
          Status::Error(Code::kUnreachable, "client connection closed", settings_.node_id));
    if (s->response_stream) s->response_stream->cancel();
  }
  // Keep streams until the session object dies: callbacks may still look them up.
}

// --- Stalled streams ---------------------------------------------------------------------
// A stream stalls when it waits on its client and the client does nothing for
// connections.progress_ms: a request body that brings no bytes (unless we have not yet
// passed on what arrived), or a response the client gives no flow-control window for.
// It is reset (CANCEL); a request not yet answered gets E0000000601 first. The receipt of
// a popped message it carried then settles as not delivered: the message goes back.
// Waiting on us (a dispatched request, a pop waiting for a message, a streamed response
// waiting for its producer) is not a stall: those have their own deadlines.
void H2ServerSession::check_streams(uint32_t now, uint32_t stall_ticks) {
  nghttp2_session* ng = session();
  boost::container::small_vector<int32_t, 8> stalled;
  for (auto& [id, s] : streams_) {
    if (s->progress_tick == 0) s->progress_tick = now;  // the stream's first tick
    if (now - s->progress_tick < stall_ticks) continue;
    nghttp2_stream* st = nghttp2_session_find_stream(ng, id);
    if (!st) continue;
    const nghttp2_stream_proto_state state = nghttp2_stream_get_state(st);
    const bool remote_open =
        state == NGHTTP2_STREAM_STATE_OPEN || state == NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL;
    const bool local_open =
        state == NGHTTP2_STREAM_STATE_OPEN || state == NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE;
    const bool body_stalled = remote_open && s->unconsumed == 0;
    const bool window_shut = s->responded && local_open &&
                             (nghttp2_session_get_stream_remote_window_size(ng, id) <= 0 ||
                              nghttp2_session_get_remote_window_size(ng) <= 0);
    if (body_stalled || window_shut) stalled.push_back(id);
  }
  for (int32_t id : stalled) {
    Stream* s = find(id);
    if (!s) continue;
    if (!s->responded) {
      // Answered first (a reset submitted now would cancel the answer): the stream is
      // reset at the next tick unless the client ends it.
      respond_error(*s, Status::Error(Code::kTimeout,
                                      "no request body bytes for " +
                                          std::to_string(progress_timeout().count()) + " ms",
                                      settings_.node_id));
      s->progress_tick = now - stall_ticks + 1;
      continue;
    }
    nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  if (!stalled.empty()) signal_write();
}

}  // namespace ptp
