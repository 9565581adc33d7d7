// The non-template parts of Http1ServerSession.
#include "gateway/server/http1_server_session.h"

namespace ptp::http1_detail {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; malformed escapes are kept literally.
std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool has_field(const Response& r, std::string_view name) {
  for (const auto& [n, v] : r.extra_headers)
    if (boost::beast::iequals(n, name)) return true;
  return false;
}

template <class Fields>
void add_headers(Fields& f, const Response& r) {
  for (const auto& [name, value] : response_headers(r)) f.insert(name, value);
}

}  // namespace

ReadFailure classify_read_error(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit) return ReadFailure::kBodyTooLarge;
  if (ec == http::error::header_limit) return ReadFailure::kHeaderTooLarge;
  // The peer went away (before or in the middle of a request): nobody to answer.
  if (ec == http::error::end_of_stream || ec == http::error::partial_message)
    return ReadFailure::kQuiet;
  if (ec.category() == make_error_code(http::error::bad_method).category())
    return ReadFailure::kMalformed;
  return ReadFailure::kQuiet;
}

bool transfer_encoding_acceptable(const http::fields& fields) {
  auto range = fields.equal_range(http::field::transfer_encoding);
  if (range.first == range.second) return true;
  std::string_view last_field;
  for (auto it = range.first; it != range.second; ++it) last_field = it->value();
  std::string_view last = last_field;
  if (size_t comma = last_field.rfind(','); comma != std::string_view::npos)
    last = last_field.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  return boost::beast::iequals(last, "chunked");
}

HeaderList request_header_list(const http::fields& fields) {
  HeaderList out;
  for (const auto& f : fields)
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

Status apply_query(std::string_view target, Envelope& env) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return Status::Ok();
  std::string_view query = target.substr(q + 1);
  if (size_t h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
  HeaderList pairs;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    pairs.emplace_back(url_decode(item.substr(0, eq)), url_decode(item.substr(eq + 1)));
  }
  return decode_headers(pairs, env);
}

http::response<http::string_body> make_response(Response r, int status, bool keep_alive) {
  http::response<http::string_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(status ? status : response_http_status(r)));
  add_headers(res, r);
  if (status == 405) res.set(http::field::allow, "POST");
  const bool json_error = !r.env.status.ok() && r.env.body.empty();
  if (!has_field(r, "content-type"))
    res.set(http::field::content_type,
            json_error ? "application/json" : "application/octet-stream");
  res.body() = json_error ? error_body_json(r.env.status) : std::move(r.env.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

http::response<http::empty_body> make_stream_head(const Response& r, bool keep_alive) {
  http::response<http::empty_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(response_http_status(r)));
  add_headers(res, r);
  if (!has_field(r, "content-type")) res.set(http::field::content_type, "application/octet-stream");
  res.keep_alive(keep_alive);
  res.chunked(true);
  return res;
}

}  // namespace ptp::http1_detail

namespace ptp {
template class Http1ServerSession<boost::asio::ip::tcp::socket>;
template class Http1ServerSession<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;
}  // namespace ptp
