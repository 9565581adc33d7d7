// Parses one HTTP/1.1 response (RFC 9112) straight into an Http1Result: lower-cased header
// names into its HeaderList and the body into its string. Hand-written rather than Beast's
// basic_parser: a local service's answer passes through here on every forwarded request,
// and scanning lines with memchr and checking values eight bytes at a time costs a
// fraction of a character-by-character state machine. Errors are Beast's http::error
// values, so callers and messages stay the same.
#pragma once

#include <boost/beast/core/error.hpp>
#include <cstdint>
#include <string_view>

#include "gateway/upstream/http1_client.h"

namespace ptp::http1 {

class ResponseParser {
 public:
  using error_code = boost::beast::error_code;

  // Errors from feed(): http::error::header_limit, http::error::body_limit (kTooLarge),
  // other http::error values for malformed input; need_more asks for more bytes.
  ResponseParser(uint32_t header_limit, uint64_t body_limit);

  // Feeds `data`; returns how many bytes were used. Unused bytes must be fed again with
  // more appended (need_more) or belong to what follows the response (is_done()).
  size_t feed(std::string_view data, error_code& ec);

  // The connection ended: completes a body delimited by the end of the connection,
  // otherwise http::error::partial_message.
  void put_eof(error_code& ec);

  bool is_done() const { return state_ == State::kDone; }
  // A final response (not 1xx interim) is complete.
  bool final_done() const { return is_done() && !interim(); }
  // 1xx (except 101): headers only, the real response follows on the same connection.
  bool interim() const {
    return result_.http_status >= 100 && result_.http_status < 200 && result_.http_status != 101;
  }
  // Some bytes of this response have arrived.
  bool got_some() const { return got_some_; }
  // The body ends with the connection (no length, not chunked).
  bool need_eof() const { return body_ == Body::kUntilEof; }
  // The connection may carry the next request after this response.
  bool keep_alive() const { return keep_alive_ && body_ != Body::kUntilEof; }

  Http1Result& result() { return result_; }

 private:
  enum class State { kHead, kBody, kChunkSize, kChunkData, kChunkEnd, kTrailers, kDone };
  enum class Body { kNone, kLength, kChunked, kUntilEof };

  size_t parse_head(std::string_view data, error_code& ec);
  void parse_status_line(std::string_view line, error_code& ec);
  void parse_field(std::string_view line, error_code& ec);
  void finish_head(error_code& ec);
  size_t take_body(std::string_view data, error_code& ec);
  size_t parse_chunked(std::string_view data, error_code& ec);

  uint32_t header_limit_;
  uint64_t body_limit_;
  State state_ = State::kHead;
  Body body_ = Body::kNone;
  bool got_some_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool has_length_ = false;
  bool chunked_ = false;
  bool other_coding_ = false;       // Transfer-Encoding whose last coding is not chunked
  bool close_ = false;              // Connection: close
  bool keep_alive_option_ = false;  // Connection: keep-alive (for HTTP/1.0)
  size_t scanned_ = 0;              // head bytes already searched for the blank line
  uint64_t length_ = 0;             // Content-Length, or the current chunk's size
  uint64_t remaining_ = 0;          // of the body (kLength) or of the chunk
  uint64_t trailer_bytes_ = 0;
  Http1Result result_;
};

}  // namespace ptp::http1
