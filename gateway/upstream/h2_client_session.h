// Client side of an HTTP/2 connection to a next hop (a peer gateway or a local
// service). Streams send a whole body (unary) or read it from a BodyPipe (streamed) and
// deliver the answer to an observer; window credit is given back only for bytes the
// caller passed on.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>

#include "gateway/config/config.h"
#include "gateway/exchange/body_pipe.h"
#include "gateway/http/h2_connection.h"
#include "gateway/upstream/deadline_queue.h"

namespace ptp {

// Receives one client stream's answer. The stream owns it: it is destroyed right after
// on_close, which is called exactly once (also when the connection is lost).
class UpstreamObserver {
 public:
  virtual ~UpstreamObserver() = default;
  virtual void on_headers(int http_status, HeaderList headers) = 0;
  virtual void on_data(std::string_view data) = 0;  // calls consume() when passed on
  virtual void on_close(HeaderList trailers, uint32_t error_code) = 0;
  // The stream's timeout passed with no end of the answer; the stream is reset next.
  virtual void on_timeout() {}
  // Whether a response header or trailer is kept for on_headers / on_close (the others
  // cost no copy).
  virtual bool wants_header(std::string_view /*name*/) const { return true; }
  // The answer's head (with any 1xx heads before it), or its trailers, passed `limit`
  // bytes: nothing more of it is kept or passed on, the stream is reset, on_close follows.
  virtual void on_head_too_large(bool /*trailers*/, uint64_t /*limit*/) {}
};

class H2ClientSession final : public H2Connection {
 public:
  using ConnectCallback = std::function<void(std::shared_ptr<H2ClientSession>, Status)>;
  struct Options {
    Endpoint endpoint;
    boost::asio::ssl::context* tls = nullptr;  // null: cleartext (h2c prior knowledge)
    std::string server_name;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds keepalive{30000};
    // Bound on an answer's head and, separately, its trailers: names + values + 32 per
    // field (RFC 9113's header list size), wanted or not. HPACK lets a peer send a
    // kept field with a large value as one byte; the HTTP/1.1 client's bound is the same
    // (Http1ClientOptions::max_response_header_bytes).
    uint64_t max_answer_header_bytes = 64 << 10;
  };
  static void connect(boost::asio::any_io_executor ex, Options opts, ConnectCallback cb);

  // Starts a request with a whole body, answered within `timeout` (0: no limit; else
  // the observer's on_timeout runs and the stream is reset). nghttp2 copies `headers`.
  // Returns the stream id and takes `observer`, or <= 0 on failure (observer left).
  int32_t submit(std::span<const nghttp2_nv> headers, std::string body,
                 std::chrono::milliseconds timeout, std::unique_ptr<UpstreamObserver>& observer);
  // Starts a request whose body is read from `body` (each chunk wrapped as one gRPC
  // Inbound message when `grpc_chunks`), ended by the pipe's trailers when it has any.
  // Same result as above.
  int32_t submit(std::span<const nghttp2_nv> headers, std::shared_ptr<BodyPipe> body,
                 bool grpc_chunks, std::unique_ptr<UpstreamObserver>& observer);
  void consume(int32_t id, size_t n);
  void begin();  // starts I/O and keepalive; called once connected
  void reset(int32_t id);
  // Open, not going away, and below the next hop's stream limit.
  bool usable() const;
  // Open and not going away: new streams are taken (beyond the limit nghttp2 holds them
  // until streams end).
  bool takes_streams() const { return !closed() && !goaway_; }
  size_t active_streams() const { return streams_.size(); }
  void set_on_closed(std::function<void(const std::string&)> f) { on_closed_ = std::move(f); }
  // Sends a PING; `on_ack` runs once when its ACK arrives (not when the connection closes
  // first). The health checks of peers with several addresses use it (peer_health).
  void ping(std::function<void()> on_ack);
  // "host:port" of the next hop, the :authority of every request.
  const std::string& authority() const { return authority_; }

  struct Stream;
  int on_header(const nghttp2_frame* f, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame* f);
  int on_data(int32_t id, const uint8_t* data, size_t len);
  int on_stream_close(int32_t id, uint32_t error_code);
  ssize_t read_body(int32_t id, uint8_t* buf, size_t len, uint32_t* flags);

  H2ClientSession(std::unique_ptr<ByteStream> io, Options opts);
  ~H2ClientSession() override;

 protected:
  void on_connection_closed(const std::string& why) override;

 private:
  void init_session();
  void arm_keepalive();
  Stream* find(int32_t id);
  int32_t start(std::span<const nghttp2_nv> headers, std::unique_ptr<Stream> s,
                std::unique_ptr<UpstreamObserver>& observer);
  void watch_deadline(int32_t id, std::chrono::milliseconds timeout);
  void arm_deadline_timer(DeadlineQueue::Clock::time_point at);
  void on_deadlines();
  // Stops keeping the answer's fields, tells the observer, resets the stream.
  int refuse_oversized_head(Stream& s, bool trailers);

  Options opts_;
  std::string authority_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  boost::asio::steady_timer keepalive_timer_;
  DeadlineQueue deadlines_;
  boost::asio::steady_timer deadline_timer_;  // armed at deadline_at_ when deadline_armed_
  DeadlineQueue::Clock::time_point deadline_at_{};
  bool deadline_armed_ = false;
  bool ping_outstanding_ = false;
  bool goaway_ = false;
  std::function<void(const std::string&)> on_closed_;
  std::function<void()> on_ping_ack_;
};

}  // namespace ptp
