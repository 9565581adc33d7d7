// gRPC length-prefixed message framing and the grpc-timeout header. Only the identity
// encoding is supported: compressed messages are rejected, never guessed at.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/status.h"

namespace ptp {

// One uncompressed frame: flag 0, big-endian uint32 length, then the message (< 4 GiB).
std::string grpc_frame(std::string_view message);

// Incremental frame parser for one stream; data may be split anywhere.
class GrpcFrameParser {
 public:
  explicit GrpcFrameParser(size_t max_message);

  // Appends each complete message to messages_out (messages completed before an error
  // in the same call are still appended). kCodecError on a compressed or unknown flag,
  // kTooLarge on a length over max_message; once failed, every later call returns the
  // same error.
  Status feed(std::string_view data, std::vector<std::string>& messages_out);

  // True when no partial frame is pending (and no error occurred): a clean end of stream.
  bool idle() const;

 private:
  Status start_message();

  size_t max_message_;
  std::array<unsigned char, 5> prefix_{};
  size_t prefix_have_ = 0;
  bool in_message_ = false;
  size_t remaining_ = 0;  // bytes of the current message still to come
  std::string current_;
  Status error_;
};

// "<n><unit>" with at most 8 digits, choosing the finest unit that fits (rounding up).
std::string grpc_timeout_header(std::chrono::milliseconds timeout);

// Parses a grpc-timeout value (units H M S m u n); sub-millisecond values round up.
bool parse_grpc_timeout(std::string_view value, std::chrono::milliseconds& out);

}  // namespace ptp
