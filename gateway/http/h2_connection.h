// One HTTP/2 connection driven by nghttp2's memory API over a ByteStream. The server
// and client sessions derive from it; it owns the read/write loop.
#pragma once

#include <nghttp2/nghttp2.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/envelope.h"
#include "gateway/exchange/byte_stream.h"
#include "gateway/http/connection_limit.h"

namespace ptp {

struct NgSessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
using NgSessionPtr = std::unique_ptr<nghttp2_session, NgSessionDeleter>;

// Headers whose value differs from one message to the next by construction (signatures,
// receipts, message ids, W3C span ids). They go out as literals never indexed: in the HPACK
// table they would only push out what does repeat (a batch statement), and nghttp2's encoder
// compares each new value with every table entry of the same name. (x-ptp-trace-id is not
// one of them: a platform may send many messages of one trace, which indexing then sends as
// one byte each.)
inline bool is_per_message_header(std::string_view name) {
  switch (name.size()) {
    case 11:
      return name == "traceparent";
    case 13:
      return name == "x-ptp-receipt";
    case 15:
      return name == "x-ptp-signature";
    case 16:
      return name == "x-ptp-message-id";
    case 17:
      return name == "x-ptp-countersign";
    default:
      return false;
  }
}

// One nghttp2 name/value pointing into `name` and `value`, which must outlive its use
// (nghttp2 copies them while submitting).
inline nghttp2_nv nv_of(std::string_view name, std::string_view value) {
  auto bytes = [](std::string_view v) {
    return reinterpret_cast<uint8_t*>(const_cast<char*>(v.data()));
  };
  return {bytes(name), bytes(value), name.size(), value.size(),
          static_cast<uint8_t>(is_per_message_header(name) ? NGHTTP2_NV_FLAG_NO_INDEX
                                                           : NGHTTP2_NV_FLAG_NONE)};
}

// The same for a lower-case name with static storage (a literal or a codec table entry):
// nghttp2 then neither copies nor lower-cases it (byte by byte, on every header block).
inline nghttp2_nv nv_of_static_name(std::string_view name, std::string_view value) {
  nghttp2_nv nv = nv_of(name, value);
  nv.flags |= NGHTTP2_NV_FLAG_NO_COPY_NAME;
  return nv;
}

// nghttp2 name/value array that points into `headers` (which must outlive it).
std::vector<nghttp2_nv> make_nv(const HeaderList& headers);

// Flow-control windows: large enough for ~1 GB/s on loopback, small enough to bound
// memory per stream and connection.
constexpr int32_t kStreamWindow = 8 << 20;
constexpr int32_t kConnectionWindow = 64 << 20;
// HPACK dynamic table between gateways (client sessions, and server sessions of a peer
// recognised by its certificate): room for a batch statement of up to kMaxStatementLeaves
// digests (trust/batch_statement.h), which every message of a batch carries and which HPACK
// then sends as an index. Not bigger: nghttp2's encoder compares a header's value with every
// table entry of its name, so a bigger table of varying values (a service's own headers)
// costs every header block more. Other clients keep the protocol's 4096 bytes, so a
// stranger's connection holds no more.
constexpr uint32_t kPeerHeaderTableBytes = 16 << 10;

// A server connection's watchdog (connections.idle_ms and progress_ms).
struct H2Timeouts {
  std::chrono::milliseconds idle{60000};      // no open stream for this long: closed
  std::chrono::milliseconds progress{30000};  // a stream / the socket write that stalls
};

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  virtual ~H2Connection() = default;
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Schedules sending whatever nghttp2 has queued. Safe to call from any callback of
  // any session on this thread: the actual send runs from a posted handler.
  void signal_write();
  bool closed() const { return closed_; }
  nghttp2_session* session() const { return session_.get(); }
  boost::asio::any_io_executor executor() { return io_->executor(); }
  // Closes the socket; on_connection_closed runs once.
  void terminate(const std::string& why);
  // Keeps a connection-limit slot until the socket closes.
  void hold(ConnectionSlot slot) { slot_ = std::move(slot); }
  // Starts the watchdog: a timer ticking at a quarter of the shorter timeout. The
  // connection is closed when it has had no open stream for `idle` or a socket write has
  // not completed for `progress`; check_streams() resets the streams that stalled.
  void watch(H2Timeouts t);
  // The watchdog's tick count (never 0 once watching): streams note it when they progress.
  uint32_t tick() const { return tick_; }
  std::chrono::milliseconds progress_timeout() const { return stall_ticks_ * tick_interval_; }

 protected:
  explicit H2Connection(std::unique_ptr<ByteStream> io);
  void start_io(std::string_view already_read);
  virtual void on_connection_closed(const std::string& why) = 0;
  // Watchdog hooks: whether any stream is open, and reset the streams that made no
  // progress for `stall_ticks` ticks up to tick `now`.
  virtual bool has_open_streams() const { return true; }
  virtual void check_streams(uint32_t /*now*/, uint32_t /*stall_ticks*/) {}
  NgSessionPtr session_;

 private:
  void do_read();
  void do_write();
  bool feed(const uint8_t* data, size_t n);
  void arm_watchdog();
  void on_watchdog_tick();

  std::unique_ptr<ByteStream> io_;
  std::vector<uint8_t> read_buf_;
  std::string write_buf_;
  bool writing_ = false;
  bool write_scheduled_ = false;
  bool closed_ = false;
  ConnectionSlot slot_;
  // Watchdog (server connections): all counts in ticks.
  std::unique_ptr<boost::asio::steady_timer> watchdog_;
  std::chrono::milliseconds tick_interval_{0};
  uint32_t idle_ticks_ = 0, stall_ticks_ = 0;
  uint32_t tick_ = 0;
  bool idle_goaway_sent_ = false;
  uint32_t idle_since_ = 0;     // tick when the last stream closed; 0: streams open
  uint32_t write_started_ = 0;  // tick when the pending socket write began
};

}  // namespace ptp
