// A connected byte stream, plain TCP or TLS, behind one small interface so the
// HTTP/2 code is written once (templates would double it for every stream type).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <memory>
#include <string>

namespace ptp {

using IoHandler = std::function<void(const boost::system::error_code&, size_t)>;

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual void async_read_some(boost::asio::mutable_buffer buf, IoHandler h) = 0;
  virtual void async_write(boost::asio::const_buffer buf, IoHandler h) = 0;
  virtual void close() = 0;
  virtual boost::asio::any_io_executor executor() = 0;
};

template <class Stream>
class ByteStreamOf final : public ByteStream {
 public:
  explicit ByteStreamOf(Stream s) : s_(std::move(s)) {}
  void async_read_some(boost::asio::mutable_buffer buf, IoHandler h) override {
    s_.async_read_some(buf, std::move(h));
  }
  void async_write(boost::asio::const_buffer buf, IoHandler h) override {
    boost::asio::async_write(s_, buf, std::move(h));
  }
  void close() override {
    boost::system::error_code ec;
    lowest().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    lowest().close(ec);
  }
  boost::asio::any_io_executor executor() override { return s_.get_executor(); }
  Stream& stream() { return s_; }

 private:
  boost::asio::ip::tcp::socket& lowest() {
    if constexpr (std::is_same_v<Stream, boost::asio::ip::tcp::socket>)
      return s_;
    else
      return s_.next_layer();
  }
  Stream s_;
};

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

}  // namespace ptp
