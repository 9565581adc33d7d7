#include <doctest/doctest.h>

#include "codecs/grpc_frame.h"

using namespace ptp;
using namespace std::chrono_literals;

TEST_CASE("grpc_frame writes flag and big-endian length") {
  CHECK(grpc_frame("abc") == std::string("\0\0\0\0\3abc", 8));
  CHECK(grpc_frame("") == std::string(5, '\0'));
  std::string big(0x010203, 'x');
  std::string f = grpc_frame(big);
  CHECK(f.substr(0, 5) == std::string("\0\0\x01\x02\x03", 5));
  CHECK(f.size() == big.size() + 5);
}

TEST_CASE("parser reads several frames from one buffer") {
  GrpcFrameParser p(1024);
  std::vector<std::string> out;
  REQUIRE(p.feed(grpc_frame("one") + grpc_frame("") + grpc_frame("three"), out).ok());
  CHECK(out == std::vector<std::string>{"one", "", "three"});
  CHECK(p.idle());
}

TEST_CASE("parser handles frames fed byte by byte") {
  const std::string wire = grpc_frame("hello") + grpc_frame("") + grpc_frame("world!");
  GrpcFrameParser p(1024);
  std::vector<std::string> out;
  CHECK(p.idle());
  for (size_t i = 0; i < wire.size(); ++i) {
    REQUIRE(p.feed(wire.substr(i, 1), out).ok());
    // Idle exactly at frame boundaries: after 10, 15 and 26 bytes.
    const size_t fed = i + 1;
    CHECK(p.idle() == (fed == 10 || fed == 15 || fed == 26));
  }
  CHECK(out == std::vector<std::string>{"hello", "", "world!"});
  CHECK(p.idle());
}

TEST_CASE("parser reports a pending partial frame through idle()") {
  GrpcFrameParser p(1024);
  std::vector<std::string> out;
  const std::string f = grpc_frame("abcdef");
  REQUIRE(p.feed(f.substr(0, 3), out).ok());  // inside the prefix
  CHECK_FALSE(p.idle());
  REQUIRE(p.feed(f.substr(3, 4), out).ok());  // inside the message
  CHECK_FALSE(p.idle());
  CHECK(out.empty());
  REQUIRE(p.feed(f.substr(7), out).ok());
  CHECK(p.idle());
  CHECK(out == std::vector<std::string>{"abcdef"});
}

TEST_CASE("compressed flag is a codec error, and sticks") {
  GrpcFrameParser p(1024);
  std::vector<std::string> out;
  std::string wire = grpc_frame("ok") + std::string("\1\0\0\0\1z", 6);
  Status s = p.feed(wire, out);
  CHECK(s.code == Code::kCodecError);
  CHECK(s.message == "compressed gRPC messages are not supported (grpc-encoding identity only)");
  CHECK(out == std::vector<std::string>{"ok"});  // the frame before the error
  CHECK_FALSE(p.idle());
  Status again = p.feed(grpc_frame("later"), out);
  CHECK(again.code == Code::kCodecError);
  CHECK(out.size() == 1);
}

TEST_CASE("unknown flag is a codec error") {
  GrpcFrameParser p(1024);
  std::vector<std::string> out;
  Status s = p.feed(std::string("\x80\0\0\0\0", 5), out);
  CHECK(s.code == Code::kCodecError);
  CHECK(s.message.find("0x80") != std::string::npos);
}

TEST_CASE("length over the limit is kTooLarge before the body arrives") {
  GrpcFrameParser p(4);
  std::vector<std::string> out;
  REQUIRE(p.feed(grpc_frame("1234"), out).ok());
  Status s = p.feed(std::string("\0\0\0\0\5", 5), out);
  CHECK(s.code == Code::kTooLarge);
  CHECK(p.feed("x", out).code == Code::kTooLarge);
  CHECK(out.size() == 1);

  GrpcFrameParser huge(1 << 20);
  CHECK(huge.feed(std::string("\0\xff\xff\xff\xff", 5), out).code == Code::kTooLarge);
}

TEST_CASE("grpc-timeout header formatting") {
  CHECK(grpc_timeout_header(1500ms) == "1500m");
  CHECK(grpc_timeout_header(0ms) == "0m");
  CHECK(grpc_timeout_header(-5ms) == "0m");
  CHECK(grpc_timeout_header(99'999'999ms) == "99999999m");
  CHECK(grpc_timeout_header(100'000'000ms) == "100000S");
  CHECK(grpc_timeout_header(100'000'001ms) == "100001S");  // rounded up
  CHECK(grpc_timeout_header(std::chrono::hours(100'000'000)) == "99999999H");
  CHECK(grpc_timeout_header(std::chrono::seconds(100'000'000)) == "1666667M");
}

TEST_CASE("grpc-timeout header parsing") {
  std::chrono::milliseconds ms{};
  CHECK(parse_grpc_timeout("2H", ms));
  CHECK(ms == 7'200'000ms);
  CHECK(parse_grpc_timeout("3M", ms));
  CHECK(ms == 180'000ms);
  CHECK(parse_grpc_timeout("10S", ms));
  CHECK(ms == 10'000ms);
  CHECK(parse_grpc_timeout("250m", ms));
  CHECK(ms == 250ms);
  CHECK(parse_grpc_timeout("1500u", ms));
  CHECK(ms == 2ms);
  CHECK(parse_grpc_timeout("1n", ms));
  CHECK(ms == 1ms);
  CHECK(parse_grpc_timeout("0n", ms));
  CHECK(ms == 0ms);
  CHECK(parse_grpc_timeout("99999999H", ms));
  CHECK(ms == std::chrono::hours(99'999'999));
  for (auto bad : {"", "m", "10", "123456789m", "1x", "-1m", "1.5S", " 1S", "1 S"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_grpc_timeout(bad, ms));
  }
  // Round trip through the header.
  CHECK(parse_grpc_timeout(grpc_timeout_header(123'456ms), ms));
  CHECK(ms == 123'456ms);
}
