#include "gateway/exchange/body_pipe.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ptp {

BodyPipe::~BodyPipe() {
  // Dropped without an end from its consumer: complete only if all of it was taken.
  if (on_end_)
    end(drained() && !cancelled_
            ? status_
            : Status::Error(Code::kSystemError, "the answer stream was dropped before its end"));
}

void BodyPipe::end(const Status& st) {
  if (auto f = std::exchange(on_end_, nullptr)) f(st, taken_);
}

void BodyPipe::write(std::string chunk) {
  if (finished_ || cancelled_ || chunk.empty()) return;
  buffered_ += chunk.size();
  *written_ += chunk.size();
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
  taken_ += n;
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
  taken_ += out.size();
  if (on_consumed_) on_consumed_(out.size());
  return true;
}

void BodyPipe::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  // Given up by a consumer that did not say why: its client went away.
  if (on_end_)
    end(finished_ && !status_.ok()
            ? status_
            : Status::Error(Code::kUnreachable,
                            "the client connection closed before the end of the answer"));
  chunks_.clear();
  buffered_ = 0;
  if (on_cancel_) on_cancel_();
}

}  // namespace ptp
