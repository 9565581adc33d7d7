// Feeds an nghttp2 data provider from a BodyPipe (or from one whole body), shared by the
// server and client sessions. With a framer, each pipe chunk goes out as one gRPC message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/exchange/body_pipe.h"

namespace ptp {

class BodyPump {
 public:
  using Framer = std::function<std::string(std::string chunk)>;
  enum class State { kMore, kWait, kEnd };  // more to come now / later / body complete

  BodyPump() = default;
  BodyPump(std::shared_ptr<BodyPipe> pipe, Framer framer)
      : pipe_(std::move(pipe)), framer_(std::move(framer)) {}
  // A body that is already complete (no pipe).
  void set_whole(std::string bytes) {
    out_ = std::move(bytes);
    off_ = 0;
  }
  // Copies up to `len` bytes into `buf`; returns how many and what follows.
  size_t pull(uint8_t* buf, size_t len, State& state);
  const std::shared_ptr<BodyPipe>& pipe() const { return pipe_; }

 private:
  std::shared_ptr<BodyPipe> pipe_;
  Framer framer_;
  std::string out_;  // framed bytes (or the whole body) not yet handed out
  size_t off_ = 0;
};

}  // namespace ptp
