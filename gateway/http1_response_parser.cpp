#include "gateway/http1_response_parser.h"

#include <boost/asio/buffer.hpp>

namespace ptp::http1 {

ResponseParser::ResponseParser(uint32_t header_limit, uint64_t body_limit) {
  this->header_limit(header_limit);
  this->body_limit(body_limit);
  eager(true);  // one put() parses the header and as much body as it is given
}

size_t ResponseParser::feed(std::string_view data, error_code& ec) {
  size_t used = 0;
  ec = {};
  // put() stops after the header even when eager; loop until the bytes run out.
  while (used < data.size() && !is_done()) {
    size_t n = put(boost::asio::const_buffer(data.data() + used, data.size() - used), ec);
    used += n;
    if (ec) break;
    if (n == 0) {
      ec = boost::beast::http::error::need_more;
      break;
    }
  }
  if (!ec && !is_done()) ec = boost::beast::http::error::need_more;
  return used;
}

void ResponseParser::on_response_impl(int code, boost::beast::string_view, int, error_code&) {
  result_.http_status = code;
  result_.headers.reserve(16);
}

void ResponseParser::on_field_impl(boost::beast::http::field, boost::beast::string_view name,
                                   boost::beast::string_view value, error_code&) {
  auto& [n, v] = result_.headers.emplace_back(std::string(name.data(), name.size()),
                                              std::string(value.data(), value.size()));
  for (char& c : n)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

void ResponseParser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
  // basic_parser already rejected a length over the body limit.
  if (length) result_.body.reserve(static_cast<size_t>(*length));
}

size_t ResponseParser::on_body_impl(boost::beast::string_view body, error_code&) {
  result_.body.append(body.data(), body.size());
  return body.size();
}

}  // namespace ptp::http1
