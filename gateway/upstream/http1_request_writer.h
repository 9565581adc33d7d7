// Serializes the head of an HTTP/1.1 POST into one string, so that head and body go out
// in one write (two buffers, one sendmsg).
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "codecs/envelope.h"

namespace ptp::http1 {

// A header to send, as views: its name is prefix + name (codecs/header_codec.h hands out
// metadata names bare, with the x-ptp- prefix apart), so nothing is copied to send it.
struct HeaderView {
  std::string_view prefix;
  std::string_view name;
  std::string_view value;
};
using HeaderViews = boost::container::small_vector<HeaderView, 24>;
// Views of a list's fields (no prefixes), valid while the list lives unchanged.
HeaderViews header_views(const HeaderList& headers);

// Appends "POST <path> HTTP/1.1", Host, `headers` (minus those this client manages:
// host, content-length, transfer-encoding, connection, keep-alive, te, upgrade),
// Content-Type (application/octet-stream unless given), Content-Length and the blank
// line to `out`. Returns false, with `why` set, when the path or a header would break
// the message (a name that is not an HTTP token, a control character such as CR, LF or
// NUL in a value or the path).
bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        std::span<const HeaderView> headers, size_t body_size, std::string& why);
bool write_request_head(std::string& out, std::string_view path, std::string_view authority,
                        const HeaderList& headers, size_t body_size, std::string& why);

}  // namespace ptp::http1
