// Client side of an HTTP/2 connection to a next hop (a peer gateway or a local
// service). Streams send their body from a BodyPipe and deliver the answer through
// callbacks; window credit is given back only for bytes the caller passed on.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_map>

#include "gateway/body_pipe.h"
#include "gateway/config.h"
#include "gateway/h2_connection.h"

namespace ptp {

struct UpstreamHandler {
  std::function<void(int http_status, HeaderList headers)> on_headers;
  std::function<void(std::string_view data)> on_data;  // caller calls consume() when passed on
  std::function<void(HeaderList trailers, uint32_t error_code)> on_close;
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
  };
  static void connect(boost::asio::any_io_executor ex, Options opts, ConnectCallback cb);

  // Starts a request; the body is read from `body` (each chunk wrapped as one gRPC
  // Inbound message when `grpc_chunks`). Returns the stream id, or <= 0 on failure.
  int32_t submit(const HeaderList& headers, std::shared_ptr<BodyPipe> body, bool grpc_chunks,
                 UpstreamHandler handler);
  void consume(int32_t id, size_t n);
  void begin();  // starts I/O and keepalive; called once connected
  void reset(int32_t id);
  bool usable() const;
  size_t active_streams() const { return streams_.size(); }
  void set_on_closed(std::function<void(const std::string&)> f) { on_closed_ = std::move(f); }

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

  Options opts_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  boost::asio::steady_timer keepalive_timer_;
  bool ping_outstanding_ = false;
  bool goaway_ = false;
  std::function<void(const std::string&)> on_closed_;
};

}  // namespace ptp
