// Server side of an HTTP/1.1 connection: POST /v1/interconn/chan/* requests decoded into
// Requests for the Dispatcher, answered with the Response it returns (whole or chunked
// from a BodyPipe). Keep-alive, one request at a time (no pipelining), plain or TLS.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "codecs/header_codec.h"
#include "gateway/exchange/exchange.h"
#include "gateway/http/connection_limit.h"
#include "gateway/http/http_mapping.h"
#include "gateway/server/session_registry.h"

namespace ptp {

struct Http1Limits {
  uint64_t max_body_bytes = 64ull << 20;
  uint32_t max_header_bytes = 64 << 10;
  // Until the next request's head is complete (keep-alive idle and header read).
  std::chrono::milliseconds idle_timeout{60000};
  // Reading a body: fewer than min_progress_bytes arrive in this time (a trickle of bytes
  // does not keep a connection); writing: a response or chunk not taken in this time.
  std::chrono::milliseconds io_timeout{30000};
  uint32_t min_progress_bytes = 1024;
  std::string node_id;      // names this hop in our own errors
  std::string hop_node_id;  // the connection's hop identity (gateway/server/client_roots.h)
};

namespace http1_detail {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

enum class ReadFailure { kQuiet, kMalformed, kBodyTooLarge, kHeaderTooLarge };
ReadFailure classify_read_error(const boost::system::error_code& ec);

// RFC 9112 6.1/6.3: a request that carries Transfer-Encoding has a body only when its final
// coding is chunked; any other final coding (gzip, identity, "chunked, identity") leaves
// its length unknown. Such a request is answered 400 and the connection closed, so its
// body is never read as a next request. True when there is no Transfer-Encoding or the
// last coding of the last field is chunked.
bool transfer_encoding_acceptable(const http::fields& fields);

// All header fields of a request, names as sent.
HeaderList request_header_list(const http::fields& fields);
// Applies "name=value" pairs of the target's query string that name PTP fields (e.g.
// ?timeout=5, the way some implementations pass the pop timeout) before the headers.
Status apply_query(std::string_view target, Envelope& env);

// A complete response. http_status 0: response_http_status(r).
http::response<http::string_body> make_response(Response r, int http_status, bool keep_alive);
// The head of a chunked response whose body comes from r.stream.
http::response<http::empty_body> make_stream_head(const Response& r, bool keep_alive);

inline tcp::socket& lowest(tcp::socket& s) { return s; }
inline tcp::socket& lowest(boost::asio::ssl::stream<tcp::socket>& s) { return s.next_layer(); }

}  // namespace http1_detail

template <class Stream>
class Http1ServerSession : public DrainableSession,
                           public std::enable_shared_from_this<Http1ServerSession<Stream>> {
 public:
  Http1ServerSession(Stream&& stream, boost::beast::flat_buffer&& already_read,
                     Dispatcher& dispatcher, Http1Limits limits, std::string remote)
      : stream_(std::move(stream)),
        buffer_(std::move(already_read)),
        dispatcher_(dispatcher),
        limits_(std::move(limits)),
        remote_(std::move(remote)),
        timer_(stream_.get_executor()) {}

  ~Http1ServerSession() {
    if (pipe_) pipe_->cancel();
  }

  void start() { read_header(); }
  // Keeps a connection-limit slot until the socket closes.
  void hold(ConnectionSlot slot) { slot_ = std::move(slot); }

  // Shutdown: the request in progress (if any) is answered with Connection: close; a
  // connection waiting for its next request is closed now.
  void drain_gracefully() override {
    if (draining_ || closed_) return;
    draining_ = true;
    keep_alive_ = false;
    if (waiting_for_header_ && buffer_.size() == 0 && !parser_->got_some()) close_now();
  }

 private:
  using Self = Http1ServerSession<Stream>;
  using error_code = boost::system::error_code;
  static constexpr size_t kChunkBytes = 64 << 10;
  static constexpr std::chrono::seconds kLinger{2};

  void read_header() {
    parser_.emplace();
    parser_->header_limit(limits_.max_header_bytes);
    parser_->body_limit(limits_.max_body_bytes);
    arm_timer(limits_.idle_timeout);
    waiting_for_header_ = true;
    http1_detail::http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    waiting_for_header_ = false;
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive() && !draining_;
    if (!http1_detail::transfer_encoding_acceptable(req))
      return reply_error(
          0, Status::Error(
                 Code::kBadRequest,
                 "Transfer-Encoding must end with chunked (RFC 9112 6.3), got \"" +
                     std::string(req[http1_detail::http::field::transfer_encoding]).substr(0, 100) +
                     "\"",
                 limits_.node_id));
    if (!admit_head()) return;  // refused on its head: answered, the body is not read
    if (boost::beast::iequals(req[http1_detail::http::field::expect], "100-continue")) {
      // Reject before the client sends a body we would only discard.
      if (!routable()) return handle_request();
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      arm_timer(limits_.io_timeout);
      return boost::asio::async_write(stream_,
                                      boost::asio::buffer(kContinue.data(), kContinue.size()),
                                      [self = this->shared_from_this()](error_code ec, size_t) {
                                        if (ec) return self->close_now();
                                        self->start_body();
                                      });
    }
    start_body();
  }

  void start_body() {
    body_progress_ = 0;
    arm_timer(limits_.io_timeout);
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return handle_request();
    // A progress timeout: re-armed only once min_progress_bytes more have arrived.
    if (body_progress_ >= limits_.min_progress_bytes) {
      body_progress_ = 0;
      arm_timer(limits_.io_timeout);
    }
    http1_detail::http::async_read_some(stream_, buffer_, *parser_,
                                        [self = this->shared_from_this()](error_code ec, size_t n) {
                                          if (ec) return self->on_read_error(ec);
                                          self->body_progress_ += n;
                                          self->read_body();
                                        });
  }

  void on_read_error(error_code ec) {
    using http1_detail::ReadFailure;
    switch (http1_detail::classify_read_error(ec)) {
      case ReadFailure::kQuiet:
        return close_now();
      case ReadFailure::kBodyTooLarge:
        return reply_error(0, Status::Error(Code::kTooLarge,
                                            "request body exceeds " +
                                                std::to_string(limits_.max_body_bytes) + " bytes",
                                            limits_.node_id));
      case ReadFailure::kHeaderTooLarge:
        return reply_error(431,
                           Status::Error(Code::kBadRequest,
                                         "request header exceeds " +
                                             std::to_string(limits_.max_header_bytes) + " bytes",
                                         limits_.node_id));
      case ReadFailure::kMalformed:
        return reply_error(
            0, Status::Error(Code::kBadRequest, "malformed HTTP/1.1 request: " + ec.message(),
                             limits_.node_id));
    }
  }

  // Decodes the head into head_ and asks the dispatcher to admit it before any of the
  // body is read (docs/security.md). False when refused: the answer is on its way and the
  // connection closes without reading the body. A path or method that is no PTP
  // interface is answered by handle_request(), as before.
  bool admit_head() {
    const auto& req = parser_->get();
    head_ = Request{};
    std::optional<Interface> iface = interface_for_path(req.target());
    if (!iface || req.method() != http1_detail::http::verb::post) return true;
    head_.iface = *iface;
    head_.wire = WireProtocol::kHttp1;
    head_.remote = remote_;
    head_.hop_node_id = limits_.hop_node_id;
    if (auto q = req.target().find('?'); q != std::string_view::npos)
      head_.query = std::string(req.target().substr(q + 1));
    head_.env.content_type = std::string(req[http1_detail::http::field::content_type]);
    Status st = http1_detail::apply_query(req.target(), head_.env);
    if (st.ok()) st = decode_headers(http1_detail::request_header_list(req), head_.env);
    if (st.ok() && is_peering_interface(*iface)) {
      // A peering body (a Route record) is small: a larger one is refused unread.
      parser_->body_limit(kPeeringBodyLimit);
      if (auto len = parser_->content_length(); len && *len > kPeeringBodyLimit)
        st = Status::Error(Code::kTooLarge, "request body of " + std::to_string(*len) +
                                                " bytes exceeds " +
                                                std::to_string(kPeeringBodyLimit) + " bytes");
    }
    if (st.ok()) st = dispatcher_.admit_head(head_);
    if (st.ok()) return true;
    if (st.hop.empty()) st.hop = limits_.node_id;
    timer_.cancel();
    dispatcher_.reject(std::move(head_), std::move(st),
                       [self = this->shared_from_this()](Response&& r) {
                         self->write_response(http1_detail::make_response(std::move(r), 0, false),
                                              /*close=*/true);
                       });
    return false;
  }

  bool routable() const {
    const auto& req = parser_->get();
    return req.method() == http1_detail::http::verb::post &&
           interface_for_path(req.target()).has_value();
  }

  void handle_request() {
    timer_.cancel();
    auto& req = parser_->get();
    // A rejected request whose body was not read leaves the stream unusable.
    const bool body_read = parser_->is_done();
    std::optional<Interface> iface = interface_for_path(req.target());
    if (!iface) {
      return reply_error(0,
                         Status::Error(Code::kNotFound,
                                       "no such path: " + std::string(req.target().substr(0, 200)),
                                       limits_.node_id),
                         !body_read);
    }
    if (req.method() != http1_detail::http::verb::post) {
      return reply_error(
          405, Status::Error(Code::kBadRequest, "method not allowed, use POST", limits_.node_id),
          !body_read);
    }
    Request r = std::move(head_);  // decoded and admitted by admit_head()
    r.env.body = std::move(req.body());
    parser_.reset();
    awaiting_ = true;
    const uint64_t seq = ++request_seq_;
    // The responder may run inside dispatch() or later; `seq` tells a stale call apart.
    dispatcher_.dispatch(std::move(r), [self = this->shared_from_this(), seq](Response&& resp) {
      self->on_response(seq, std::move(resp));
    });
    if (awaiting_ && seq == request_seq_) watch_peer_close(seq);
  }

  // While a dispatch is outstanding (a pop may wait for minutes) nothing reads the
  // socket; watch it, so a client that went away is noticed and its response (and a
  // message leased for it) is dropped instead of written into a dead connection.
  void watch_peer_close(uint64_t seq) {
    auto& sock = http1_detail::lowest(stream_);
    sock.async_wait(
        http1_detail::tcp::socket::wait_read, [w = this->weak_from_this(), seq](error_code ec) {
          auto self = w.lock();
          if (!self || ec || self->closed_ || !self->awaiting_ || seq != self->request_seq_) return;
          char c;
          auto& s = http1_detail::lowest(self->stream_);
          ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) self->close_now();
          // Data (a pipelined request, TLS records) waits for the next read.
        });
  }

  void on_response(uint64_t seq, Response r) {
    if (closed_ || !awaiting_ || seq != request_seq_) {
      if (r.stream) r.stream->cancel();
      return;
    }
    awaiting_ = false;
    if (r.stream && r.env.status.ok()) return start_stream(std::move(r));
    if (r.stream) r.stream->cancel();
    delivery_ = std::move(r.delivery);
    write_response(http1_detail::make_response(std::move(r), 0, keep_alive_), !keep_alive_);
  }

  void reply_error(int http_status, Status st, bool force_close = true) {
    const bool close = force_close || !keep_alive_;
    write_response(http1_detail::make_response(error_response(std::move(st)), http_status, !close),
                   close);
  }

  void write_response(http1_detail::http::response<http1_detail::http::string_body> res,
                      bool close) {
    if (closed_) return;
    res_ = std::move(res);
    arm_timer(limits_.io_timeout);
    http1_detail::http::async_write(
        stream_, res_, [self = this->shared_from_this(), close](error_code ec, size_t) {
          self->on_written(ec, close);
        });
  }

  void on_written(error_code ec, bool close) {
    if (auto d = std::exchange(delivery_, nullptr); d && !ec) d->settle(true);
    if (ec) return close_now();
    if (close) return graceful_close();
    read_header();
  }

  // --- chunked response from a BodyPipe -------------------------------------------------

  void start_stream(Response r) {
    pipe_ = std::move(r.stream);
    stream_head_.emplace(http1_detail::make_stream_head(r, keep_alive_));
    stream_sr_.emplace(*stream_head_);
    arm_timer(limits_.io_timeout);
    http1_detail::http::async_write_header(
        stream_, *stream_sr_, [self = this->shared_from_this()](error_code ec, size_t) {
          if (ec) return self->close_now();
          // Weak: the pipe must not keep us alive; hold_ does while we wait on it.
          self->pipe_->set_on_readable([w = self->weak_from_this()] {
            if (auto s = w.lock()) s->pump_stream();
          });
          self->pump_stream();
        });
  }

  void pump_stream() {
    if (closed_ || !pipe_ || writing_chunk_) return;
    chunk_.resize(kChunkBytes);
    size_t n = pipe_->read(chunk_.data(), chunk_.size());
    if (n > 0) {
      chunk_.resize(n);
      writing_chunk_ = true;
      hold_.reset();  // the write handler holds us now (a caller up the stack does too)
      arm_timer(limits_.io_timeout);
      return boost::asio::async_write(stream_,
                                      http1_detail::http::make_chunk(boost::asio::buffer(chunk_)),
                                      [self = this->shared_from_this()](error_code ec, size_t) {
                                        self->writing_chunk_ = false;
                                        if (ec) return self->close_now();
                                        self->pump_stream();
                                      });
    }
    if (!pipe_->drained()) {
      // Waiting for the producer, whose own deadlines bound this wait.
      timer_.cancel();
      hold_ = this->shared_from_this();
      return;
    }
    hold_.reset();
    const bool ok = pipe_->status().ok();
    pipe_->end(pipe_->status());  // all of it taken: the producer's outcome is the answer's
    pipe_.reset();
    stream_sr_.reset();
    stream_head_.reset();
    // The status line is already sent: a failed producer can only truncate the body,
    // which the client sees as a missing last chunk.
    if (!ok) return close_now();
    arm_timer(limits_.io_timeout);
    boost::asio::async_write(stream_, http1_detail::http::make_chunk_last(),
                             [self = this->shared_from_this()](error_code ec, size_t) {
                               self->on_written(ec, !self->keep_alive_);
                             });
  }

  // --- timeouts and closing -------------------------------------------------------------

  void arm_timer(std::chrono::steady_clock::duration d) {
    timer_.expires_after(d);
    timer_.async_wait([w = this->weak_from_this()](error_code ec) {
      if (ec) return;
      auto self = w.lock();
      // A wait that completed just before being re-armed must not fire.
      if (self && self->timer_.expiry() <= std::chrono::steady_clock::now()) self->close_now();
    });
  }

  // Sends FIN, then reads and discards what the client still sends for a while, so the
  // kernel does not answer that data with a reset that would destroy our response.
  void graceful_close() {
    if (closed_) return;
    arm_timer(kLinger);
    if constexpr (std::is_same_v<Stream, http1_detail::tcp::socket>) {
      error_code ignored;
      stream_.shutdown(http1_detail::tcp::socket::shutdown_send, ignored);
      drain();
    } else {
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
    }
  }

  void drain() {
    chunk_.resize(kChunkBytes);
    stream_.async_read_some(boost::asio::buffer(chunk_),
                            [self = this->shared_from_this()](error_code ec, size_t) {
                              if (ec || self->closed_) return self->close_now();
                              self->drain();
                            });
  }

  // Callers always hold a reference to us, so dropping hold_ here is safe.
  void close_now() {
    if (closed_) return;
    closed_ = true;
    slot_.release();
    timer_.cancel();
    if (pipe_) pipe_->cancel();
    pipe_.reset();
    hold_.reset();
    error_code ignored;
    auto& sock = http1_detail::lowest(stream_);
    sock.shutdown(http1_detail::tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
  }

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  Dispatcher& dispatcher_;
  Http1Limits limits_;
  std::string remote_;
  boost::asio::steady_timer timer_;
  std::optional<http1_detail::http::request_parser<http1_detail::http::string_body>> parser_;
  Request head_;  // the request being read, admitted on its head
  http1_detail::http::response<http1_detail::http::string_body> res_;
  std::optional<http1_detail::http::response<http1_detail::http::empty_body>> stream_head_;
  std::optional<http1_detail::http::response_serializer<http1_detail::http::empty_body>> stream_sr_;
  std::shared_ptr<BodyPipe> pipe_;
  std::shared_ptr<Self> hold_;  // set only while waiting for the pipe to become readable
  std::string chunk_;
  bool writing_chunk_ = false;
  bool keep_alive_ = false;
  bool awaiting_ = false;                      // a dispatch is outstanding
  std::shared_ptr<DeliveryReceipt> delivery_;  // of the response being written
  bool closed_ = false;
  bool draining_ = false;            // shutting down: no request after the current one
  bool waiting_for_header_ = false;  // between requests (or reading a request's header)
  uint64_t request_seq_ = 0;
  uint64_t body_progress_ = 0;  // body bytes since the progress timer was last armed
  ConnectionSlot slot_;
};

}  // namespace ptp

namespace ptp {
// Instantiated once in http1_server_session.cpp for the two stream types the listener uses.
extern template class Http1ServerSession<boost::asio::ip::tcp::socket>;
extern template class Http1ServerSession<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;
}  // namespace ptp
