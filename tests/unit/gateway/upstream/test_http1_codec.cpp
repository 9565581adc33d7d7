// The HTTP/1.1 client's response parser and request serializer, on bytes in memory.
#include <doctest/doctest.h>

#include <boost/beast/http/error.hpp>
#include <vector>

#include "gateway/upstream/http1_read_buffer.h"
#include "gateway/upstream/http1_request_writer.h"
#include "gateway/upstream/http1_response_parser.h"

using namespace ptp;
namespace http = boost::beast::http;
using http1::ResponseParser;

namespace {

struct Parsed {
  boost::beast::error_code ec;  // need_more: incomplete
  bool keep_alive = false;
  size_t left = 0;  // bytes after the response (buffered or not yet fed)
  Http1Result result;
};

// Feeds `wire` in pieces of `step` bytes through a ReadBuffer, the way the client does:
// unused bytes stay buffered and are fed again with the next piece.
Parsed parse(std::string_view wire, size_t step = 1 << 20, uint32_t header_limit = 8192,
             uint64_t body_limit = 1 << 20) {
  ResponseParser p(header_limit, body_limit);
  http1::ReadBuffer buf;
  Parsed out;
  size_t pos = 0;
  while (true) {
    size_t n = std::min(step, wire.size() - pos);
    auto space = buf.prepare(1 << 20);
    REQUIRE(space.size() >= n);
    std::memcpy(space.data(), wire.data() + pos, n);
    buf.commit(n);
    pos += n;
    out.ec = {};
    buf.consume(p.feed(buf.data(), out.ec));
    if (out.ec != http::error::need_more || pos == wire.size()) break;
  }
  out.keep_alive = p.keep_alive();
  out.left = buf.size() + (wire.size() - pos);
  out.result = std::move(p.result());
  return out;
}

std::string header(const HeaderList& h, std::string_view name) {
  for (const auto& [n, v] : h)
    if (n == name) return std::string(v);
  return "<absent>";
}

}  // namespace

TEST_CASE("http1 response parser: content-length, lower-cased names, keep-alive") {
  const std::string wire =
      "HTTP/1.1 201 Created\r\nX-PTP-Code: E0000000000\r\nContent-Type: text/plain\r\n"
      "Content-Length: 5\r\n\r\nhello";
  for (size_t step : {size_t{1}, size_t{7}, wire.size()}) {
    CAPTURE(step);
    Parsed r = parse(wire + "HTTP/1.1 200", step);
    REQUIRE_FALSE(r.ec);
    CHECK(r.result.http_status == 201);
    CHECK(r.result.body == "hello");
    CHECK(header(r.result.headers, "x-ptp-code") == "E0000000000");
    CHECK(header(r.result.headers, "content-type") == "text/plain");
    CHECK(header(r.result.headers, "content-length") == "5");
    CHECK(r.keep_alive);
    CHECK(r.left == std::string("HTTP/1.1 200").size());  // not part of this response
  }
}

TEST_CASE("http1 response parser: chunked body, split over many reads") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{3}, size_t{64}}) {
    CAPTURE(step);
    Parsed r = parse(wire, step);
    REQUIRE_FALSE(r.ec);
    CHECK(r.result.body == "hello 0123456789");
    CHECK(header(r.result.headers, "transfer-encoding") == "chunked");
    CHECK(header(r.result.headers, "x-a") == "1");
    CHECK(r.keep_alive);
    CHECK(r.left == 0);
  }
}

TEST_CASE("http1 response parser: Connection: close and HTTP/1.0 end keep-alive") {
  CHECK_FALSE(
      parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
  CHECK_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  CHECK(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);

  // No length: the body runs to the end of the connection.
  ResponseParser p(8192, 1024);
  boost::beast::error_code ec;
  std::string_view wire = "HTTP/1.0 200 OK\r\n\r\nuntil eof";
  CHECK(p.feed(wire, ec) == wire.size());
  CHECK(ec == http::error::need_more);
  CHECK(p.need_eof());
  p.put_eof(ec);
  CHECK_FALSE(ec);
  CHECK(p.final_done());
  CHECK_FALSE(p.keep_alive());
  CHECK(p.result().body == "until eof");
}

TEST_CASE("http1 response parser: limits and malformed input") {
  SUBCASE("header limit") {
    Parsed r = parse("HTTP/1.1 200 OK\r\nX-Big: " + std::string(400, 'v') + "\r\n\r\n", 16, 256);
    CHECK(r.ec == http::error::header_limit);
  }
  SUBCASE("body limit, declared length") {
    Parsed r = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 1 << 20, 8192, 10);
    CHECK(r.ec == http::error::body_limit);
  }
  SUBCASE("body limit, chunked") {
    Parsed r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", 4,
                     8192, 10);
    CHECK(r.ec == http::error::body_limit);
  }
  SUBCASE("body limit, exactly at it") {
    Parsed r = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 3, 8192, 10);
    CHECK_FALSE(r.ec);
    CHECK(r.result.body == "0123456789");
  }
  SUBCASE("malformed") {
    for (std::string_view bad : {"HTTP/1.1 2x0 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
                                 "HTTP/1.1 200 OK\r\nContent-Length: zz\r\n\r\n",
                                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
      CAPTURE(bad);
      Parsed r = parse(bad, 2);
      CHECK(r.ec);
      CHECK(r.ec != http::error::need_more);
    }
  }
  SUBCASE("incomplete") {
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123").ec == http::error::need_more);
    ResponseParser p(8192, 1024);
    boost::beast::error_code ec;
    CHECK(p.feed(std::string_view(), ec) == 0);  // no bytes (a null data pointer) yet
    CHECK(ec == http::error::need_more);
    CHECK_FALSE(p.got_some());
  }
}

TEST_CASE("http1 response parser: framing rules of RFC 9112") {
  SUBCASE("no reason phrase, empty reason, tabs and obs-text in values") {
    for (std::string_view line : {"HTTP/1.1 200\r\n", "HTTP/1.1 200 \r\n"}) {
      Parsed r = parse(std::string(line) + "Content-Length: 2\r\n\r\nok");
      REQUIRE_FALSE(r.ec);
      CHECK(r.result.body == "ok");
    }
    Parsed r = parse("HTTP/1.1 200 OK\r\nX-A: \t a\tb \xE9  \r\nContent-Length: 0\r\n\r\n");
    REQUIRE_FALSE(r.ec);
    CHECK(header(r.result.headers, "x-a") == "a\tb \xE9");  // outer whitespace trimmed
  }
  SUBCASE("the same Content-Length twice is one length; two different ones are an error") {
    Parsed same = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
    REQUIRE_FALSE(same.ec);
    CHECK(same.result.body == "abc");
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").ec ==
          http::error::bad_content_length);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n").ec ==
          http::error::bad_content_length);
  }
  SUBCASE("chunked wins over Content-Length; another final coding runs to the end") {
    Parsed r = parse(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n");
    REQUIRE_FALSE(r.ec);
    CHECK(r.result.body == "abc");
    ResponseParser p(8192, 1024);
    boost::beast::error_code ec;
    std::string_view wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzipped";
    CHECK(p.feed(wire, ec) == wire.size());
    CHECK(ec == http::error::need_more);
    CHECK(p.need_eof());
    CHECK_FALSE(p.keep_alive());
    p.put_eof(ec);
    CHECK_FALSE(ec);
    CHECK(p.result().body == "zipped");
  }
  SUBCASE("204 and 304 have no body even with a length") {
    for (std::string_view status : {"204 No Content", "304 Not Modified"}) {
      Parsed r = parse("HTTP/1.1 " + std::string(status) + "\r\nContent-Length: 5\r\n\r\nnext");
      REQUIRE_FALSE(r.ec);
      CHECK(r.result.body.empty());
      CHECK(r.left == 4);
      CHECK(r.keep_alive);
    }
  }
  SUBCASE("a cut-off body is a partial message at the end of the connection") {
    ResponseParser p(8192, 1024);
    boost::beast::error_code ec;
    p.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123", ec);
    CHECK(ec == http::error::need_more);
    CHECK(p.got_some());
    CHECK_FALSE(p.need_eof());
    p.put_eof(ec);
    CHECK(ec == http::error::partial_message);
    ResponseParser empty(8192, 1024);
    CHECK_FALSE(empty.got_some());
  }
  SUBCASE("trailers are read past; chunk extensions are allowed") {
    Parsed r = parse(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2 ; name=\"v\"\r\nab\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\nafter",
        5);
    REQUIRE_FALSE(r.ec);
    CHECK(r.result.body == "ab");
    CHECK(r.left == 5);
  }
  SUBCASE("malformed heads, values and chunks") {
    static const char kNul[] = "HTTP/1.1 200 OK\r\nX-A: \0\r\n\r\n";
    for (std::string_view bad : std::initializer_list<std::string_view>{
             "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",  // obs-fold
             "HTTP/1.1 200 OK\r\nX-A: b\nc\r\n\r\n",   // bare LF
             "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n",   // bare CR
             "HTTP/1.1 200 OK\r\nX-A: b\x7f\r\n\r\n",  // DEL
             std::string_view(kNul, sizeof kNul - 1),  // NUL
             "HTTP/1.1 200 OK\r\nX A: b\r\n\r\n",      // space in name
             "HTTP/1.1 200 OK\r\n: b\r\n\r\n",         // empty name
             "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n",
             "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"}) {
      CAPTURE(bad);
      for (size_t step : {size_t{1}, size_t{1} << 20}) {
        Parsed r = parse(bad, step);
        CHECK(r.ec);
        CHECK(r.ec != http::error::need_more);
      }
    }
  }
}

TEST_CASE("http1 response parser: a 1xx interim response is not the answer") {
  ResponseParser p(8192, 1024);
  boost::beast::error_code ec;
  std::string_view wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
  size_t used = p.feed(wire, ec);
  CHECK_FALSE(ec);
  CHECK(p.is_done());
  CHECK(p.interim());
  CHECK_FALSE(p.final_done());
  CHECK(wire.substr(used) == "HTTP/1.1 200 OK\r\n");
}

TEST_CASE("http1 request writer: head, managed headers, content type") {
  std::string out, why;
  HeaderList h{{"X-PTP-Trace-Id", "t1"}, {"host", "evil"},           {"Content-Length", "99"},
               {"connection", "close"},  {"Transfer-Encoding", "x"}, {"te", "trailers"},
               {"upgrade", "h2c"},       {"keep-alive", "1"},        {"x-empty", ""}};
  REQUIRE(http1::write_request_head(out, "/v1/x?a=1", "svc:8080", h, 1234, why));
  CHECK(out ==
        "POST /v1/x?a=1 HTTP/1.1\r\nHost: svc:8080\r\nX-PTP-Trace-Id: t1\r\nx-empty: \r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 1234\r\n\r\n");

  out.clear();
  REQUIRE(http1::write_request_head(out, "", "h:1", {{"content-type", "text/plain"}}, 0, why));
  CHECK(out ==
        "POST / HTTP/1.1\r\nHost: h:1\r\ncontent-type: text/plain\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("http1 request writer: header views join a prefix to the name") {
  const std::vector<http1::HeaderView> h{{"x-ptp-", "message-id", "m1"},
                                         {"", "x-ptp-uri", "ptp/echo"},
                                         {"x-ptp-", "content-type", "not the body's type"},
                                         {"", "Content-Type", "text/plain"}};
  std::string out, why;
  REQUIRE(http1::write_request_head(out, "/p", "h:1", h, 2, why));
  // A prefixed name is never one the client manages or the body's content type.
  CHECK(out ==
        "POST /p HTTP/1.1\r\nHost: h:1\r\nx-ptp-message-id: m1\r\nx-ptp-uri: ptp/echo\r\n"
        "x-ptp-content-type: not the body's type\r\nContent-Type: text/plain\r\n"
        "Content-Length: 2\r\n\r\n");

  const std::vector<http1::HeaderView> bad_prefix{{"x ptp-", "a", "1"}};
  CHECK_FALSE(http1::write_request_head(out, "/", "h:1", bad_prefix, 0, why));
  CHECK(why == "header name contains characters not allowed in HTTP/1.1");
  const std::vector<http1::HeaderView> bad_value{{"x-ptp-", "a", "1\r\nx: y"}};
  CHECK_FALSE(http1::write_request_head(out, "/", "h:1", bad_value, 0, why));
  CHECK(why == "header x-ptp-a contains characters not allowed in HTTP/1.1");
}

TEST_CASE("http1 request writer: CR, LF, NUL and non-token names are refused") {
  for (const auto& [name, value] : HeaderList{{"x-a", "1\r\nx-injected: 1"},
                                              {"x-a", "1\nx"},
                                              {"x-a", std::string("a\0b", 3)},
                                              {"x-a", "abcdefghij\x7fk"},
                                              {"x-a", "abcdefgh\x01"},
                                              {"x-a\r\nx-b", "1"},
                                              {"x a", "1"},
                                              {"x:a", "1"},
                                              {"", "1"}}) {
    CAPTURE(name);
    std::string out, why;
    CHECK_FALSE(http1::write_request_head(out, "/", "h:1", {{name, value}}, 0, why));
    CHECK_FALSE(why.empty());
  }
  for (std::string_view path : {"/a b", "/a\r\nx: 1", "/a\n"}) {
    std::string out, why;
    CHECK_FALSE(http1::write_request_head(out, path, "h:1", HeaderList{}, 0, why));
  }
}

TEST_CASE("http1 request writer: tabs and non-ASCII bytes in values pass") {
  std::string out, why;
  CHECK(http1::write_request_head(out, "/", "h:1", {{"x-a", "a\tb \xE9\xE9 long enough"}}, 0, why));
  CHECK(out.find("x-a: a\tb \xE9\xE9 long enough\r\n") != std::string::npos);
}
