// The one internal message model (docs/architecture.md): every wire format decodes into an
// Envelope and encodes from one.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "codecs/header_list.h"
#include "codecs/status.h"

namespace ptp {

// The typed PTP standard header (docs/protocol.md, headers).
struct PtpHeader {
  std::string version;             // x-ptp-version
  std::string tech_provider_code;  // x-ptp-tech-provider-code
  std::string trace_id;            // x-ptp-trace-id
  std::string token;               // x-ptp-token
  std::string uri;                 // x-ptp-uri
  std::string session_id;          // x-ptp-session-id
  std::string source_node_id;      // x-ptp-source-node-id
  std::string target_node_id;      // x-ptp-target-node-id
  std::string source_inst_id;      // x-ptp-source-inst-id
  std::string target_inst_id;      // x-ptp-target-inst-id

  bool operator==(const PtpHeader&) const = default;
};

// Extension metadata (topic, message code, offset, reply topic, timeout, …) and the
// gateway's own routing fields (route path), keyed by canonical lower-case name.
using Metadata = std::map<std::string, std::string>;

struct Envelope {
  PtpHeader header;
  Metadata meta;
  std::string body;          // whole body for unary exchanges; streams carry chunks separately
  std::string content_type;  // of the body as it arrived over HTTP (empty: unknown / gRPC)
  Status status;             // set on responses
};

}  // namespace ptp
