#include "codecs/grpc_frame.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>

namespace ptp {

std::string grpc_frame(std::string_view message) {
  const auto n = static_cast<uint32_t>(message.size());
  std::string out;
  out.reserve(5 + message.size());
  out.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(message);
  return out;
}

GrpcFrameParser::GrpcFrameParser(size_t max_message) : max_message_(max_message) {}

bool GrpcFrameParser::idle() const { return error_.ok() && prefix_have_ == 0 && !in_message_; }

Status GrpcFrameParser::start_message() {
  const unsigned flag = prefix_[0];
  if (flag == 1)
    return Status::Error(Code::kCodecError,
                         "compressed gRPC messages are not supported (grpc-encoding identity "
                         "only)");
  if (flag != 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "invalid gRPC frame flag 0x%02x", flag);
    return Status::Error(Code::kCodecError, buf);
  }
  const uint32_t len = (uint32_t{prefix_[1]} << 24) | (uint32_t{prefix_[2]} << 16) |
                       (uint32_t{prefix_[3]} << 8) | uint32_t{prefix_[4]};
  if (len > max_message_)
    return Status::Error(Code::kTooLarge, "gRPC message of " + std::to_string(len) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(max_message_) + " bytes");
  prefix_have_ = 0;
  in_message_ = true;
  remaining_ = len;
  current_.clear();
  current_.reserve(len);
  return Status::Ok();
}

Status GrpcFrameParser::feed(std::string_view data, std::vector<std::string>& messages_out) {
  if (!error_.ok()) return error_;
  while (true) {
    if (!in_message_) {
      if (data.empty()) break;
      // At most 5 bytes; the loop condition bounds the index, so no write can pass the
      // array whatever prefix_have_ held (GCC 12 at -O3 could not prove that of the
      // subtraction-based copy and reported a write past the end).
      while (prefix_have_ < prefix_.size() && !data.empty()) {
        prefix_[prefix_have_++] = static_cast<unsigned char>(data.front());
        data.remove_prefix(1);
      }
      if (prefix_have_ < prefix_.size()) break;
      if (Status s = start_message(); !s.ok()) {
        error_ = s;
        return error_;
      }
    }
    // In a message: take what is there; a zero-length message completes at once.
    const size_t n = std::min(remaining_, data.size());
    current_.append(data.substr(0, n));
    data.remove_prefix(n);
    remaining_ -= n;
    if (remaining_ > 0) break;
    messages_out.push_back(std::move(current_));
    current_ = std::string();
    in_message_ = false;
  }
  return Status::Ok();
}

std::string grpc_timeout_header(std::chrono::milliseconds timeout) {
  constexpr int64_t kMax = 99'999'999;
  int64_t v = std::max<int64_t>(timeout.count(), 0);
  if (v <= kMax) return std::to_string(v) + "m";
  // Coarser units, rounded up so the deadline is never shortened.
  constexpr std::pair<int64_t, char> kUnits[] = {{1000, 'S'}, {60, 'M'}, {60, 'H'}};
  for (auto [factor, unit] : kUnits) {
    v = (v + factor - 1) / factor;
    if (v <= kMax || unit == 'H') return std::to_string(std::min(v, kMax)) + unit;
  }
  return std::to_string(kMax) + "H";  // not reached
}

bool parse_grpc_timeout(std::string_view value, std::chrono::milliseconds& out) {
  if (value.size() < 2 || value.size() > 9) return false;
  const char unit = value.back();
  std::string_view digits = value.substr(0, value.size() - 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  int64_t v = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), v);
  switch (unit) {
    case 'H':
      out = std::chrono::hours(v);
      return true;
    case 'M':
      out = std::chrono::minutes(v);
      return true;
    case 'S':
      out = std::chrono::seconds(v);
      return true;
    case 'm':
      out = std::chrono::milliseconds(v);
      return true;
    case 'u':
      out = std::chrono::milliseconds((v + 999) / 1000);
      return true;
    case 'n':
      out = std::chrono::milliseconds((v + 999'999) / 1'000'000);
      return true;
    default:
      return false;
  }
}

}  // namespace ptp
