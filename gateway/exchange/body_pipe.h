// A chunk pipe between one producer and one consumer living on the same I/O thread
// (e.g. an HTTP/2 server stream receiving DATA and the upstream stream sending it on).
// Flow control is end to end: the producer opens its receive window only by what the
// consumer has taken out (on_consumed), so memory stays bounded by the window sizes.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "codecs/header_list.h"
#include "codecs/status.h"

namespace ptp {

class BodyPipe {
 public:
  // How the stream ended for its consumer, told once: `end` is Ok when all of it went out,
  // else why it did not; `taken` is the bytes the consumer took. The pipeline's access
  // log line and request metrics of a streamed answer wait for it (docs/observability.md
  // "Streamed answers").
  using EndObserver = std::function<void(const Status& end, uint64_t taken)>;

  BodyPipe() = default;
  BodyPipe(const BodyPipe&) = delete;
  BodyPipe& operator=(const BodyPipe&) = delete;
  ~BodyPipe();

  // Producer side.
  void write(std::string chunk);
  void finish(Status st = Status::Ok());
  // A header field that follows the body (an HTTP/2 request trailer, e.g. a stream's
  // x-ptp-signature): added before finish(); a consumer sends them after the last chunk.
  void add_trailer(std::string_view name, std::string_view value) {
    trailers_.emplace_back(name, value);
  }
  bool cancelled() const { return cancelled_; }
  // The bytes the producer wrote (what was dropped after finish() or cancel() is not), in
  // a counter that outlives the pipe: the pipeline counts a streamed request's bytes in
  // when its answer ends, maybe after the pipe is gone, and must not hold the pipe (the
  // diag echo answers with its request's pipe, whose end observer holds the request).
  std::shared_ptr<const uint64_t> written() const { return written_; }
  void set_on_consumed(std::function<void(size_t)> f) { on_consumed_ = std::move(f); }
  void set_on_cancel(std::function<void()> f) { on_cancel_ = std::move(f); }
  void set_on_end(EndObserver f) { on_end_ = std::move(f); }

  // Consumer side.
  size_t read(char* dst, size_t max);  // copies up to max bytes; 0 when empty
  // Takes the next whole chunk (message boundaries matter for gRPC streams).
  bool read_chunk(std::string& out);
  bool drained() const { return finished_ && buffered_ == 0; }
  bool finished() const { return finished_; }
  size_t buffered() const { return buffered_; }
  const Status& status() const { return status_; }
  const HeaderList& trailers() const { return trailers_; }
  void set_on_readable(std::function<void()> f) { on_readable_ = std::move(f); }
  // The consumer is done with the stream: `st` says how it ended (Ok: all of it went out,
  // the producer's failure, or why the consumer gave it up). Only the first call counts;
  // a cancel() or the pipe's destruction without one tells the end observer for it.
  void end(const Status& st);
  void cancel();

  // Keeps `holder` alive as long as the pipe (e.g. an RAII guard counting active streams).
  void keep_alive_with(std::shared_ptr<void> holder) { holders_.push_back(std::move(holder)); }

 private:
  std::deque<std::string> chunks_;
  size_t head_offset_ = 0;
  size_t buffered_ = 0;
  uint64_t taken_ = 0;  // bytes the consumer read
  std::shared_ptr<uint64_t> written_ = std::make_shared<uint64_t>(0);
  bool finished_ = false;
  bool cancelled_ = false;
  Status status_;
  HeaderList trailers_;
  std::function<void()> on_readable_;
  std::function<void(size_t)> on_consumed_;
  std::function<void()> on_cancel_;
  EndObserver on_end_;
  std::vector<std::shared_ptr<void>> holders_;
};

}  // namespace ptp
