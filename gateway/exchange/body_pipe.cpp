#include "gateway/exchange/body_pipe.h"

#include <algorithm>
#include <cstring>

namespace ptp {

void BodyPipe::write(std::string chunk) {
  if (finished_ || cancelled_ || chunk.empty()) return;
  buffered_ += chunk.size();
  chunks_.push_back(std::move(chunk));
  if (on_readable_) on_readable_();
}

void BodyPipe::finish(Status st) {
  if (finished_) return;
  finished_ = true;
  status_ = std::move(st);
  if (on_readable_) on_readable_();
}

size_t BodyPipe::read(char* dst, size_t max) {
  size_t n = 0;
  while (n < max && !chunks_.empty()) {
    auto& front = chunks_.front();
    size_t take = std::min(max - n, front.size() - head_offset_);
    std::memcpy(dst + n, front.data() + head_offset_, take);
    n += take;
    head_offset_ += take;
    if (head_offset_ == front.size()) {
      chunks_.pop_front();
      head_offset_ = 0;
    }
  }
  buffered_ -= n;
  if (n && on_consumed_) on_consumed_(n);
  return n;
}

bool BodyPipe::read_chunk(std::string& out) {
  if (chunks_.empty()) return false;
  out = std::move(chunks_.front());
  if (head_offset_) out.erase(0, head_offset_);
  chunks_.pop_front();
  head_offset_ = 0;
  buffered_ -= out.size();
  if (on_consumed_) on_consumed_(out.size());
  return true;
}

void BodyPipe::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  chunks_.clear();
  buffered_ = 0;
  if (on_cancel_) on_cancel_();
}

}  // namespace ptp
