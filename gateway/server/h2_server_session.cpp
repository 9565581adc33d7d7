#include "gateway/server/h2_server_session.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/container/small_vector.hpp>
#include <charconv>
#include <cstring>
#include <limits>

#include "codecs/header_codec.h"
#include "codecs/proto_codec.h"
#include "gateway/exchange/body_pump.h"
#include "gateway/http/grpc_messages.h"
#include "gateway/http/grpc_paths.h"
#include "gateway/http/http_mapping.h"
#include "trust/message_evidence.h"

namespace ptp {

struct H2ServerSession::Stream {
  Stream(ConnectionBodyBudget* connection, BodyBudget* process) : charge(connection, process) {}
  int32_t id = 0;
  Request req;  // its envelope holds the PTP header fields, decoded as they arrive
  HeaderDecodeState header_state;
  std::string method, path, content_type;
  uint64_t header_bytes = 0;
  uint64_t content_length = std::numeric_limits<uint64_t>::max();  // max: not given
  uint64_t received = 0;                                           // body bytes so far
  bool header_overflow = false;
  bool te_trailers = false;  // "te: trailers", which gRPC requires
  std::optional<Interface> iface;
  bool grpc = false;
  bool streamed = false;
  bool rejected = false;  // refused: the rest of the body is discarded
  bool dispatched = false;
  std::string body;                         // unary request body (raw wire bytes)
  BodyCharge charge;                        // what `body` holds of the body budgets
  std::shared_ptr<BodyPipe> req_pipe;       // streamed request body
  std::unique_ptr<GrpcFrameParser> parser;  // streamed gRPC request
  uint64_t unconsumed = 0;                  // received bytes not yet credited to the window
  uint32_t progress_tick = 0;               // watchdog tick of the last byte in or out; 0: none

  // Response side: what outlives submitting the response headers.
  bool responded = false;
  GrpcErrors grpc_errors = GrpcErrors::kMessage;  // how a gRPC error goes out
  bool error_message_sent = false;  // kMessage: a failed stream's last Outbound is queued
  bool answer_sent = false;         // our END_STREAM went out
  bool reset_sent = false;
  // Reset by the watchdog: what its client did not do (a static string), else null.
  const char* stalled = nullptr;
  Status whole_status;                        // the outcome of a whole (not streamed) answer
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
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  // A HEADERS frame after the request's head: its trailers.
  if (f->headers.cat == NGHTTP2_HCAT_HEADERS) return self_of(u)->on_trailer(f->hd.stream_id, n, v);
  return self_of(u)->on_header(f->hd.stream_id, n, v);
}
int cb_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* u) {
  return self_of(u)->on_frame_recv(f);
}
int cb_frame_send(nghttp2_session*, const nghttp2_frame* f, void* u) {
  return self_of(u)->on_frame_send(f);
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
      remote_(std::move(remote)) {
  body_budget_.limit = settings_.buffered_body_bytes_per_connection;
}

H2ServerSession::~H2ServerSession() = default;

void H2ServerSession::init_session() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, cb_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, cb_frame_send);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // We credit the receive window ourselves, only for bytes passed on (end-to-end flow control).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // Closed streams are not kept for an RFC 7540 priority tree (see the settings below).
  nghttp2_option_set_no_closed_streams(opt, 1);
  // A peer gateway's messages and answers may index batch statements (kPeerHeaderTableBytes).
  const uint32_t table = settings_.hop_node_id.empty() ? 4096u : settings_.peer_header_table_bytes;
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, table);
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
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, table},
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
  auto s = std::make_unique<Stream>(&body_budget_, settings_.body_budget.get());
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
  if (name == ":method") {
    s->method = value;
  } else if (name == ":path") {
    s->path = value;
  } else if (name == "content-type") {
    s->content_type = value;
  } else if (name == "content-length") {  // nghttp2 checks the DATA against it
    std::from_chars(value.data(), value.data() + value.size(), s->content_length);
  } else if (name == "te") {
    s->te_trailers = value == "trailers";
  }
  if (!name.starts_with(':')) decode_header(name, value, s->req.env, s->header_state);
  return 0;
}

int H2ServerSession::on_trailer(int32_t id, std::string_view name, std::string_view value) {
  // The head was admitted without them: trailers change no header field. A streamed
  // request keeps its x-ptp-signature (docs/evidence.md, "Streams"), within the header limit.
  Stream* s = find(id);
  if (!s || !s->streamed || s->rejected || name != kSignatureHeader) return 0;
  s->header_bytes += name.size() + value.size() + 32;
  if (s->header_bytes <= settings_.max_header_bytes) s->req_pipe->add_trailer(name, value);
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
  int http_status = 0;
  if (Status st = check_head(s, http_status); !st.ok()) {
    refuse(s, std::move(st), http_status);
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
    return;
  }
  // Unary: the head must pass before any of the body is kept (docs/security.md). A gRPC
  // invoke carries its PTP header inside the Inbound message: the body budgets bound it.
  if (!s.header_state.error.ok()) {
    refuse(s, std::move(s.header_state.error));
    return;
  }
  if (!(s.grpc && *s.iface == Interface::kInvoke)) {
    if (Status st = dispatcher_.admit_head(s.req); !st.ok()) {
      refuse(s, std::move(st));
      return;
    }
  }
  if (s.content_length != std::numeric_limits<uint64_t>::max() && s.content_length > body_limit(s))
    refuse(s, Status::Error(Code::kTooLarge, "request body of " + std::to_string(s.content_length) +
                                                 " bytes exceeds " + std::to_string(body_limit(s)) +
                                                 " bytes"));
}

Status H2ServerSession::check_head(Stream& s, int& http_status) {
  Request& req = s.req;
  const GrpcContentType ct = classify_grpc_content_type(s.content_type);
  s.grpc = ct == GrpcContentType::kGrpc;
  req.wire = s.grpc ? WireProtocol::kGrpc : WireProtocol::kHttp2;
  if (s.header_overflow)
    return Status::Error(
        Code::kBadRequest,
        "request headers exceed " + std::to_string(settings_.max_header_bytes) + " bytes");
  s.iface = s.grpc ? grpc_interface_for_path(s.path) : interface_for_path(s.path);
  if (!s.iface && !s.grpc && grpc_interface_for_path(s.path)) {
    // A gRPC method in another protocol or encoding: 415, so that no HTTP/2 client takes
    // it for a gRPC answer (gRPC over HTTP/2).
    http_status = 415;
    const std::string given =
        s.content_type.empty() ? "no content-type" : "content-type " + s.content_type;
    return Status::Error(Code::kBadRequest,
                         ct == GrpcContentType::kUnsupported
                             ? given +
                                   " asks for a gRPC message encoding not spoken here; use "
                                   "application/grpc or application/grpc+proto"
                             : "gRPC method " + s.path + " called with " + given +
                                   "; gRPC needs application/grpc or application/grpc+proto");
  }
  if (!s.iface) return Status::Error(Code::kNotFound, "no PTP interface at path " + s.path);
  req.iface = *s.iface;
  if (s.method != "POST")
    return Status::Error(Code::kBadRequest, "method " + s.method + " not allowed, use POST");
  if (s.grpc && !s.te_trailers)
    return Status::Error(Code::kBadRequest,
                         "gRPC request without \"te: trailers\" (required by gRPC over HTTP/2; "
                         "a proxy on the way may have dropped it)");
  req.remote = remote_;
  req.hop_node_id = settings_.hop_node_id;
  if (auto q = s.path.find('?'); q != std::string::npos) req.query = s.path.substr(q + 1);
  if (!s.grpc) req.env.content_type = s.content_type;
  return Status::Ok();
}

uint64_t H2ServerSession::body_limit(const Stream& s) const {
  if (s.iface && is_peering_interface(*s.iface)) return kPeeringBodyLimit;
  // gRPC: one message of max_body_bytes plus its 5-byte frame prefix.
  return settings_.max_body_bytes + (s.grpc ? 5 : 0);
}

int H2ServerSession::on_data(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = find(id);
  if (s) s->progress_tick = tick();
  if (s) s->received += len;
  if (s && s->streamed && !s->rejected && (s->req_pipe->finished() || s->req_pipe->cancelled()))
    s->rejected = true;  // answered (or given up) downstream: nobody takes the rest
  if (!s || s->rejected) {
    // Discarded: the connection's window reopens, the stream's does not.
    nghttp2_session_consume_connection(session(), len);
    if (s) reset_if_stuck(*s);
    return 0;
  }
  if (!s->streamed) {
    on_unary_data(*s, data, len);
    return 0;
  }
  std::string_view chunk(reinterpret_cast<const char*>(data), len);
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

void H2ServerSession::on_unary_data(Stream& s, const uint8_t* data, size_t len) {
  if (s.body.size() + len > body_limit(s)) {
    nghttp2_session_consume_connection(session(), len);
    refuse(s, Status::Error(Code::kTooLarge,
                            "request body exceeds " + std::to_string(body_limit(s)) + " bytes"));
    return;
  }
  if (auto r = s.charge.add(len); r != BodyCharge::Result::kOk) {
    nghttp2_session_consume_connection(session(), len);
    const bool conn = r == BodyCharge::Result::kConnectionFull;
    refuse(s, Status::Error(
                  Code::kBufferFull,
                  std::string("request bodies being received ") +
                      (conn ? "on this connection" : "by this gateway") + " would exceed " +
                      std::to_string(conn ? body_budget_.limit : settings_.body_budget->limit()) +
                      " bytes (limits.buffered_body_bytes_" + (conn ? "per_connection" : "total") +
                      "); retry later"));
    return;
  }
  s.body.append(reinterpret_cast<const char*>(data), len);
  // The window reopens by what is kept, within the limits: the client sends no more.
  nghttp2_session_consume(session(), s.id, len);
}

void H2ServerSession::dispatch(Stream& s) {
  s.dispatched = true;
  s.charge.release();    // the body is handed on: no longer held while it arrives
  Request& req = s.req;  // handed on by rvalue below: nothing is copied or moved
  Status st = std::move(s.header_state.error);
  if (st.ok() && s.grpc && !s.streamed) {
    // Unary gRPC: exactly one length-prefixed Inbound message.
    GrpcFrameParser parser(settings_.max_body_bytes);
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
  if (!st.ok()) {
    refuse(s, std::move(st));
    return;
  }
  req.stream = s.req_pipe;
  dispatcher_.dispatch(std::move(req), responder(s.id));
}

Responder H2ServerSession::responder(int32_t id, int http_status) {
  std::weak_ptr<H2Connection> weak = weak_from_this();
  return [weak, id, http_status](Response&& r) {
    auto self = std::static_pointer_cast<H2ServerSession>(weak.lock());
    if (!self || self->closed()) {
      if (r.stream) r.stream->cancel();
      return;
    }
    if (http_status) r.http_status = http_status;
    self->respond(id, std::move(r));
  };
}

void H2ServerSession::respond(int32_t id, Response&& r) {
  Stream* s = find(id);
  if (!s || s->responded) {
    if (r.stream) r.stream->cancel();
    return;
  }
  submit_response(*s, r);
}

void H2ServerSession::refuse(Stream& s, Status st, int http_status) {
  s.rejected = true;
  s.charge.release();
  std::string().swap(s.body);
  if (st.hop.empty()) st.hop = settings_.node_id;
  if (s.req_pipe && !s.req_pipe->finished()) s.req_pipe->finish(st);
  if (s.responded) return;
  // The answer goes out through the responder (maybe before reject() returns); the
  // stream, which owns s.req, lives until it closes.
  dispatcher_.reject(std::move(s.req), std::move(st), responder(s.id, http_status));
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
    s.grpc_errors = r.grpc_errors.value_or(settings_.grpc_errors);
    if (!r.env.status.ok() && s.grpc_errors == GrpcErrors::kStatus) {
      // Trailers-only response carrying the PTP status.
      HeaderList trailers = grpc_status_trailers(r.env.status);
      for (const auto& [k, v] : trailers) add(k, v, false);
      nghttp2_submit_response(session(), s.id, nv.data(), nv.size(), nullptr);
      signal_write();
      return;
    }
    // An error in the standard's way: the answer message carries its code and message,
    // grpc-status is 0.
    if (!r.env.status.ok()) s.whole_status = r.env.status;
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
  Status end_status = s->pump.pipe() ? s->pump.pipe()->status() : s->whole_status;
  if (!s->grpc && !end_status.ok())  // RST_STREAM, after the bytes this call took out
    return n ? static_cast<ssize_t>(n) : ssize_t{NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE};
  if (s->grpc && s->pump.pipe() && !end_status.ok() && s->grpc_errors == GrpcErrors::kMessage &&
      !s->error_message_sent) {
    // A failed stream ends with one more Outbound carrying the error (then grpc-status 0).
    s->error_message_sent = true;
    if (end_status.hop.empty()) end_status.hop = settings_.node_id;
    Response last = error_response(std::move(end_status));
    s->pump.set_whole(grpc_frame(outbound_message(last)));
    n += s->pump.pull(buf + n, len - n, state);
    if (state != BodyPump::State::kEnd) return static_cast<ssize_t>(n);
    end_status = std::move(last.env.status);
  }
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (s->grpc) {
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    submit_grpc_trailers(*s, end_status);
  } else if (s->pump.pipe() && !s->pump.pipe()->trailers().empty()) {
    // A streamed answer's own trailers (a signed stream's receipt, docs/evidence.md).
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    auto nv = make_nv(s->pump.pipe()->trailers());
    nghttp2_submit_trailer(session(), s->id, nv.data(), nv.size());
  }
  return static_cast<ssize_t>(n);
}

void H2ServerSession::submit_grpc_trailers(Stream& s, const Status& st) {
  HeaderList t = grpc_status_trailers(st, s.grpc_errors);
  if (s.pump.pipe())
    for (const auto& [k, v] : s.pump.pipe()->trailers()) t.emplace_back(k, v);
  auto nv = make_nv(t);
  nghttp2_submit_trailer(session(), s.id, nv.data(), nv.size());
}

int H2ServerSession::on_frame_send(const nghttp2_frame* f) {
  if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
      (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS))
    return 0;
  if (Stream* s = find(f->hd.stream_id)) {
    s->answer_sent = true;
    reset_if_stuck(*s);
  }
  return 0;
}

void H2ServerSession::reset_if_stuck(Stream& s) {
  // A refused stream's window is not reopened. Once the answer is out, a client that
  // cannot finish its body within what is left of it is asked to stop, without error
  // (RFC 9113 8.1); one that can is left to finish: some clients take a reset during
  // their upload for a failure, even after a complete answer.
  if (!s.rejected || !s.answer_sent || s.reset_sent ||
      nghttp2_session_get_stream_remote_close(session(), s.id) != 0)
    return;
  // What the client may still send: the stream's window, and what our SETTINGS add to it
  // once acknowledged (the request may have come before them).
  const int64_t pending = kStreamWindow - static_cast<int64_t>(nghttp2_session_get_local_settings(
                                              session(), NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE));
  const int64_t window = nghttp2_session_get_stream_local_window_size(session(), s.id) + pending;
  const uint64_t left = window > 0 ? static_cast<uint64_t>(window) : 0;
  const bool length_known = s.content_length != std::numeric_limits<uint64_t>::max();
  if (left > 0 &&
      (!length_known || s.content_length < s.received || s.content_length - s.received <= left))
    return;
  s.reset_sent = true;
  nghttp2_submit_rst_stream(session(), NGHTTP2_FLAG_NONE, s.id, NGHTTP2_NO_ERROR);
  signal_write();
}

Status H2ServerSession::answer_end(const Stream& s, uint32_t error_code) const {
  const BodyPipe& pipe = *s.response_stream;
  // The producer failed: the stream was reset, or (gRPC) its trailers say so.
  if (pipe.finished() && !pipe.status().ok()) return pipe.status();
  if (s.answer_sent) return Status::Ok();  // our END_STREAM went out
  if (s.stalled)
    return Status::Error(Code::kTimeout,
                         std::string("the client ") + s.stalled + " for " +
                             std::to_string(progress_timeout().count()) + " ms",
                         settings_.node_id);
  return Status::Error(Code::kBadRequest,
                       "the client closed the stream before the end of the answer (HTTP/2 "
                       "error " +
                           std::to_string(error_code) + ")",
                       settings_.node_id);
}

int H2ServerSession::on_stream_close(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  Stream& s = *it->second;
  s.charge.release();
  // A normal close after our END_STREAM: the whole response went to the connection.
  if (error_code == NGHTTP2_NO_ERROR && s.responded && s.delivery) s.delivery->settle(true);
  if (s.unconsumed) nghttp2_session_consume_connection(session(), s.unconsumed);
  // Told before the request side ends: that may make the producer fail the answer too.
  if (s.response_stream) s.response_stream->end(answer_end(s, error_code));
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
    s->charge.release();
    if (s->req_pipe && !s->req_pipe->finished())
      s->req_pipe->finish(
          Status::Error(Code::kUnreachable, "client connection closed", settings_.node_id));
    if (s->response_stream) {
      // An answer that went out whole ended well; else the cancel says the client left.
      if (s->answer_sent) s->response_stream->end(answer_end(*s, NGHTTP2_NO_ERROR));
      s->response_stream->cancel();
    }
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
    if (window_shut)
      s->stalled = "took no answer bytes";
    else if (body_stalled)
      s->stalled = "sent no request body bytes";
  }
  for (int32_t id : stalled) {
    Stream* s = find(id);
    if (!s) continue;
    if (!s->responded) {
      // Answered first (a reset submitted now would cancel the answer): the stream is
      // reset at the next tick unless the client ends it.
      refuse(*s, Status::Error(Code::kTimeout,
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
