// Parses one HTTP/1.1 response straight into an Http1Result: lower-cased header names
// into its HeaderList and the body into its string, without Beast's basic_fields (one
// allocation per field). Framing, limits and keep-alive come from Beast's basic_parser.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string_view>

#include "gateway/http1_client.h"

namespace ptp::http1 {

class ResponseParser : public boost::beast::http::basic_parser<false> {
 public:
  using error_code = boost::beast::error_code;

  // Errors from put(): http::error::header_limit, http::error::body_limit (kTooLarge),
  // other http::error values for malformed input; need_more asks for more bytes.
  ResponseParser(uint32_t header_limit, uint64_t body_limit);

  // Feeds `data`; returns how many bytes were used. Unused bytes must be fed again with
  // more appended (need_more) or belong to what follows the response (is_done()).
  size_t feed(std::string_view data, error_code& ec);

  // A final response (not 1xx interim) is complete.
  bool final_done() const { return is_done() && !interim(); }
  // 1xx (except 101): headers only, the real response follows on the same connection.
  bool interim() const {
    return result_.http_status >= 100 && result_.http_status < 200 && result_.http_status != 101;
  }

  Http1Result& result() { return result_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view,
                       boost::beast::string_view, int, error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view, int, error_code&) override;
  void on_field_impl(boost::beast::http::field, boost::beast::string_view name,
                     boost::beast::string_view value, error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override;
  size_t on_body_impl(boost::beast::string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                            error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  Http1Result result_;
};

}  // namespace ptp::http1
