#include "gateway/pipeline/diag_service.h"

#include "codecs/header_codec.h"

namespace ptp {

Response diag_echo(Request& req, const std::string& node_id) {
  Response r;
  r.env.header.trace_id = req.env.header.trace_id;
  r.env.header.session_id = req.env.header.session_id;
  for (const auto& [name, value] : encode_headers(req.env)) {
    if (name == "x-ptp-token") {
      r.extra_headers.emplace_back("x-ptp-diag-token-present", "true");
      continue;
    }
    std::string_view bare = name;
    if (bare.starts_with(kPtpHeaderPrefix)) bare.remove_prefix(kPtpHeaderPrefix.size());
    r.extra_headers.emplace_back("x-ptp-diag-" + std::string(bare), value);
  }
  r.extra_headers.emplace_back("x-ptp-diag-node", node_id);
  r.extra_headers.emplace_back("x-ptp-diag-wire", std::string(wire_name(req.wire)));
  if (req.stream)
    r.stream = req.stream;  // the request pipe is the response pipe: an echo with back-pressure
  else
    r.env.body = std::move(req.env.body);
  return r;
}

}  // namespace ptp
