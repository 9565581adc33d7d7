#include "gateway/http/h2_connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace ptp {

std::vector<nghttp2_nv> make_nv(const HeaderList& headers) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size());
  for (const auto& [k, v] : headers) nv.push_back(nv_of(k, v));
  return nv;
}

H2Connection::H2Connection(std::unique_ptr<ByteStream> io)
    : io_(std::move(io)), read_buf_(64 * 1024) {}

void H2Connection::start_io(std::string_view already_read) {
  if (!already_read.empty() &&
      !feed(reinterpret_cast<const uint8_t*>(already_read.data()), already_read.size()))
    return;
  do_write();
  do_read();
}

bool H2Connection::feed(const uint8_t* data, size_t n) {
  ssize_t rv = nghttp2_session_mem_recv(session_.get(), data, n);
  if (rv < 0) {
    // nghttp2 has queued a GOAWAY for protocol errors; flush it before closing.
    do_write();
    terminate(std::string("HTTP/2 protocol error: ") + nghttp2_strerror(static_cast<int>(rv)));
    return false;
  }
  return true;
}

void H2Connection::do_read() {
  if (closed_) return;
  io_->async_read_some(
      boost::asio::buffer(read_buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        if (self->closed_) return;
        if (ec) {
          self->terminate(ec == boost::asio::error::eof ? "peer closed" : ec.message());
          return;
        }
        if (!self->feed(self->read_buf_.data(), n)) return;
        self->do_write();
        self->do_read();
      });
}

void H2Connection::signal_write() {
  if (write_scheduled_ || closed_) return;
  write_scheduled_ = true;
  boost::asio::post(io_->executor(), [self = shared_from_this()] {
    self->write_scheduled_ = false;
    self->do_write();
  });
}

void H2Connection::do_write() {
  if (writing_ || closed_) return;
  write_buf_.clear();
  while (write_buf_.size() < (256u << 10)) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      terminate(std::string("HTTP/2 send error: ") + nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    if (n == 0) break;
    write_buf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (write_buf_.empty()) {
    if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get()))
      terminate("connection finished");
    return;
  }
  writing_ = true;
  write_started_ = tick_;
  io_->async_write(boost::asio::buffer(write_buf_),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->writing_ = false;
                     if (ec) {
                       self->terminate("write failed: " + ec.message());
                       return;
                     }
                     self->do_write();
                   });
}

void H2Connection::terminate(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  io_->close();
  slot_.release();
  if (watchdog_) watchdog_->cancel();
  on_connection_closed(why);
}

void H2Connection::watch(H2Timeouts t) {
  if (closed_) return;
  using std::chrono::milliseconds;
  tick_interval_ = std::max(milliseconds(10), std::min(t.idle, t.progress) / 4);
  auto ticks = [this](milliseconds d) {
    return static_cast<uint32_t>((d + tick_interval_ - milliseconds(1)) / tick_interval_);
  };
  idle_ticks_ = ticks(t.idle);
  stall_ticks_ = ticks(t.progress);
  tick_ = 1;
  watchdog_ = std::make_unique<boost::asio::steady_timer>(io_->executor());
  arm_watchdog();
}

void H2Connection::arm_watchdog() {
  watchdog_->expires_after(tick_interval_);
  watchdog_->async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self || self->closed_) return;
    self->on_watchdog_tick();
  });
}

void H2Connection::on_watchdog_tick() {
  if (++tick_ == 0) tick_ = 1;  // 0 means "not noted"
  if (writing_ && tick_ - write_started_ > stall_ticks_)
    return terminate("the client took no bytes for " +
                     std::to_string(stall_ticks_ * tick_interval_.count()) + " ms");
  if (has_open_streams()) {
    idle_since_ = 0;
    check_streams(tick_, stall_ticks_);
    if (closed_) return;
  } else if (idle_since_ == 0) {
    idle_since_ = tick_;
  } else if (idle_goaway_sent_) {
    // The GOAWAY went out a tick ago and the client has not closed: close.
    return terminate("idle: no stream for " + std::to_string(idle_ticks_ * tick_interval_.count()) +
                     " ms");
  } else if (tick_ - idle_since_ >= idle_ticks_) {
    // GOAWAY first, so that a client does not send a request into a closing connection;
    // do_write closes the connection once it is sent and no stream is open.
    idle_goaway_sent_ = true;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    signal_write();
  }
  arm_watchdog();
}

}  // namespace ptp
