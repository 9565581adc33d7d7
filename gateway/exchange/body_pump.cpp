#include "gateway/exchange/body_pump.h"

#include <algorithm>
#include <cstring>

namespace ptp {

size_t BodyPump::pull(uint8_t* buf, size_t len, State& state) {
  if (off_ == out_.size() && pipe_) {
    out_.clear();
    off_ = 0;
    if (framer_) {
      std::string chunk;
      if (pipe_->read_chunk(chunk)) out_ = framer_(std::move(chunk));
    } else if (size_t n = pipe_->read(reinterpret_cast<char*>(buf), len); n > 0) {
      state = pipe_->drained() ? State::kEnd : State::kMore;
      return n;
    }
  }
  size_t n = std::min(len, out_.size() - off_);
  std::memcpy(buf, out_.data() + off_, n);
  off_ += n;
  if (off_ < out_.size() || (pipe_ && !pipe_->drained()))
    state = n > 0 ? State::kMore : State::kWait;
  else
    state = State::kEnd;
  return n;
}

}  // namespace ptp
