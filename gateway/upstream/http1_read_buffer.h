// A connection's receive buffer, kept across the requests of a kept-alive connection so
// that each response is read with one large recv instead of a growing series of small ones.
#pragma once

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <cstring>
#include <memory>
#include <string_view>

namespace ptp::http1 {

class ReadBuffer {
 public:
  static constexpr size_t kInitial = 16 << 10;

  // Unparsed bytes.
  std::string_view data() const { return {buf_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Free space after the unparsed bytes: compacts, and grows (doubling) up to `max`
  // bytes when full; empty when `max` is reached.
  boost::asio::mutable_buffer prepare(size_t max) {
    if (!buf_) {
      cap_ = kInitial;
      buf_ = std::make_unique_for_overwrite<char[]>(cap_);
    }
    if (end_ == cap_ && begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == cap_ && cap_ < max) {
      size_t cap = std::min(cap_ * 2, std::max(max, cap_));
      auto grown = std::make_unique_for_overwrite<char[]>(cap);
      std::memcpy(grown.get(), buf_.get(), end_);
      buf_ = std::move(grown);
      cap_ = cap;
    }
    return {buf_.get() + end_, cap_ - end_};
  }
  void commit(size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace ptp::http1
