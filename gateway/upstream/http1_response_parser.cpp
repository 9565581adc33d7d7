#include "gateway/upstream/http1_response_parser.h"

#include <algorithm>
#include <boost/beast/http/error.hpp>
#include <cstring>

#include "gateway/http/http_field_chars.h"

namespace ptp::http1 {
namespace {

using boost::beast::http::error;

// Longest chunk-size line (size, extensions) accepted.
constexpr size_t kMaxChunkLine = 4096;

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool iequals(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
           return kLowerTokenChar[static_cast<unsigned char>(x)] == y;
         });
}

// Calls f(token) for each comma-separated, trimmed, non-empty element of a list value.
template <class F>
void for_each_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view element = trim(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == list.npos) break;
    list.remove_prefix(comma + 1);
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ResponseParser::ResponseParser(uint32_t header_limit, uint64_t body_limit)
    : header_limit_(header_limit), body_limit_(body_limit) {}

size_t ResponseParser::feed(std::string_view data, error_code& ec) {
  ec = {};
  if (!data.empty()) got_some_ = true;
  size_t used = 0;
  if (state_ == State::kHead) {
    used = parse_head(data, ec);
    if (!ec && state_ == State::kHead) ec = error::need_more;
    if (ec) return used;
  }
  if (state_ == State::kBody)
    used += take_body(data.substr(used), ec);
  else if (state_ != State::kDone)
    used += parse_chunked(data.substr(used), ec);
  if (!ec && state_ != State::kDone) ec = error::need_more;
  return used;
}

void ResponseParser::put_eof(error_code& ec) {
  ec = {};
  if (state_ == State::kBody && body_ == Body::kUntilEof)
    state_ = State::kDone;
  else if (state_ != State::kDone)
    ec = error::partial_message;
}

size_t ResponseParser::parse_head(std::string_view data, error_code& ec) {
  // The whole head first (it is small and usually arrives in one read), then its lines:
  // one memchr per line finds the blank line that ends it.
  const std::string_view window = data.substr(0, size_t{header_limit_} + 1);
  size_t end = scanned_;  // a line start: nothing before it needs looking at again
  for (;;) {
    const void* lf =
        end < window.size() ? std::memchr(window.data() + end, '\n', window.size() - end) : nullptr;
    if (!lf) {
      if (data.size() > header_limit_) ec = error::header_limit;
      scanned_ = end;
      return 0;
    }
    const size_t eol = static_cast<size_t>(static_cast<const char*>(lf) - window.data());
    if (eol == end + 1 && window[end] == '\r' && end > 0) break;  // the blank line
    end = eol + 1;
  }
  const size_t head_size = end + 2;
  if (head_size > header_limit_) {
    ec = error::header_limit;
    return 0;
  }
  const std::string_view head = data.substr(0, end);  // every line with its line end
  size_t pos = 0;
  for (bool first = true; pos < head.size() && !ec; first = false) {
    const size_t lf = head.find('\n', pos);
    if (lf == pos || head[lf - 1] != '\r') {
      ec = error::bad_line_ending;
      return 0;
    }
    const std::string_view line = head.substr(pos, lf - 1 - pos);
    pos = lf + 1;
    if (first) {
      result_.headers.reserve(16, head.size());
      parse_status_line(line, ec);
    } else {
      parse_field(line, ec);
    }
  }
  if (ec) return 0;
  scanned_ = 0;
  finish_head(ec);
  return ec ? 0 : head_size;
}

void ResponseParser::parse_status_line(std::string_view line, error_code& ec) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ') {
    ec = error::bad_version;
    return;
  }
  int code = 0;
  for (char c : line.substr(9, 3)) {
    if (c < '0' || c > '9') {
      ec = error::bad_status;
      return;
    }
    code = code * 10 + (c - '0');
  }
  if (code < 100 || (line.size() > 12 && line[12] != ' ')) {
    ec = error::bad_status;
    return;
  }
  if (line.size() > 13 && !is_field_value(line.substr(13))) {
    ec = error::bad_reason;
    return;
  }
  http10_ = line[7] == '0';
  result_.http_status = code;
}

void ResponseParser::parse_field(std::string_view line, error_code& ec) {
  if (line.front() == ' ' || line.front() == '\t') {
    ec = error::bad_obs_fold;  // RFC 9112 §5.2: a proxy may reject it
    return;
  }
  const size_t colon = line.find(':');
  if (colon == line.npos || !is_token(line.substr(0, colon))) {
    ec = error::bad_field;
    return;
  }
  const std::string_view value = trim(line.substr(colon + 1));
  if (!is_field_value(value)) {
    ec = error::bad_value;
    return;
  }
  result_.headers.emplace_back_lowered_name(line.substr(0, colon), value);
  const std::string_view name = result_.headers[result_.headers.size() - 1].first;
  // The fields that frame the body or decide about the connection.
  if (name == "content-length") {
    uint64_t n = 0;
    if (value.empty() || value.size() > 19 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      ec = error::bad_content_length;
      return;
    }
    for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
    if (has_length_ && n != length_) {
      ec = error::bad_content_length;
      return;
    }
    has_length_ = true;
    length_ = n;
  } else if (name == "transfer-encoding") {
    // The last coding decides: chunked frames the body, anything else runs to the end.
    for_each_element(value, [&](std::string_view coding) {
      chunked_ = iequals(coding, "chunked");
      other_coding_ = !chunked_;
    });
  } else if (name == "connection") {
    for_each_element(value, [&](std::string_view option) {
      if (iequals(option, "close")) close_ = true;
      if (iequals(option, "keep-alive")) keep_alive_option_ = true;
    });
  }
}

void ResponseParser::finish_head(error_code& ec) {
  keep_alive_ = http10_ ? keep_alive_option_ && !close_ : !close_;
  const int s = result_.http_status;
  if ((s >= 100 && s < 200) || s == 204 || s == 304) {
    body_ = Body::kNone;
    if (s == 101) keep_alive_ = false;  // the connection would speak another protocol
    state_ = State::kDone;
  } else if (chunked_) {
    body_ = Body::kChunked;
    state_ = State::kChunkSize;
  } else if (other_coding_ || !has_length_) {
    body_ = Body::kUntilEof;
    state_ = State::kBody;
  } else if (length_ > body_limit_) {
    ec = error::body_limit;
  } else {
    body_ = Body::kLength;
    remaining_ = length_;
    result_.body.reserve(length_);
    state_ = length_ == 0 ? State::kDone : State::kBody;
  }
}

size_t ResponseParser::take_body(std::string_view data, error_code& ec) {
  if (body_ == Body::kUntilEof) {
    if (result_.body.size() + data.size() > body_limit_) {
      ec = error::body_limit;
      return 0;
    }
    result_.body.append(data);
    return data.size();
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
  result_.body.append(data.substr(0, n));
  remaining_ -= n;
  if (remaining_ == 0) state_ = State::kDone;
  return n;
}

size_t ResponseParser::parse_chunked(std::string_view data, error_code& ec) {
  size_t used = 0;
  while (state_ != State::kDone) {
    const std::string_view rest = data.substr(used);
    switch (state_) {
      case State::kChunkSize: {
        // chunk-size [BWS ; extensions] CRLF
        const size_t eol = rest.find("\r\n");
        if (eol == rest.npos) {
          if (rest.size() > kMaxChunkLine) ec = error::bad_chunk;
          return used;
        }
        const std::string_view line = rest.substr(0, eol);
        uint64_t size = 0;
        size_t i = 0;
        for (; i < line.size() && hex_digit(line[i]) >= 0; ++i) {
          if (i == 16) {
            ec = error::bad_chunk;  // more than 64 bits
            return used;
          }
          size = size * 16 + static_cast<uint64_t>(hex_digit(line[i]));
        }
        std::string_view ext = trim(line.substr(i));
        if (i == 0 || (!ext.empty() && ext.front() != ';')) {
          ec = error::bad_chunk;
          return used;
        }
        if (!is_field_value(ext)) {
          ec = error::bad_chunk_extension;
          return used;
        }
        used += eol + 2;
        if (size == 0) {
          state_ = State::kTrailers;
        } else if (result_.body.size() + size > body_limit_ || size > body_limit_) {
          ec = error::body_limit;
          return used;
        } else {
          remaining_ = size;
          state_ = State::kChunkData;
        }
        break;
      }
      case State::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, rest.size()));
        if (n == 0) return used;
        result_.body.append(rest.substr(0, n));
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kChunkEnd;
        break;
      }
      case State::kChunkEnd:
        if (rest.size() < 2) return used;
        if (rest[0] != '\r' || rest[1] != '\n') {
          ec = error::bad_chunk;
          return used;
        }
        used += 2;
        state_ = State::kChunkSize;
        break;
      case State::kTrailers: {
        // Trailer fields are read past (nothing here uses them); a blank line ends them.
        const size_t eol = rest.find("\r\n");
        if (eol == rest.npos) {
          if (trailer_bytes_ + rest.size() > header_limit_) ec = error::header_limit;
          return used;
        }
        trailer_bytes_ += eol + 2;
        if (trailer_bytes_ > header_limit_) {
          ec = error::header_limit;
          return used;
        }
        if (!is_field_value(rest.substr(0, eol))) {
          ec = error::bad_value;
          return used;
        }
        used += eol + 2;
        if (eol == 0) state_ = State::kDone;
        break;
      }
      default:
        return used;
    }
  }
  return used;
}

}  // namespace ptp::http1
