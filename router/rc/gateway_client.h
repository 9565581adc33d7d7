// The router client's only transport: its own gateway's container interfaces
// (docs/queues.md) — POST /v1/interconn/chan/{push,pop,peek,release} over HTTP/1.1 with raw
// application/octet-stream bodies, the topic and extension metadata in x-ptp-* headers, and a
// fresh x-ptp-token per request minted from the node's key (docs/security.md).
//
// Transient failures (connection refused or reset, E0000000500/503/601/700) are retried with
// backoff; pushes are idempotent by message id, and a pop whose answer was lost goes back to
// the head of its queue at the gateway, so retrying is safe. Other failures throw
// std::runtime_error naming the operation, the code and the gateway's message.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/hmac.h"

namespace ptp::rc {

struct GatewayUrl {
  std::string host;
  std::string port;
};
// "http://host:port" (a trailing '/' is allowed). TLS to the local gateway is not supported:
// run ptp-rc next to its gateway. Throws std::invalid_argument.
GatewayUrl parse_gateway_url(std::string_view url);

struct PoppedMessage {
  std::string payload;
  // Response headers, lower-case names: the message's header fields and metadata as
  // x-ptp-<name> (x-ptp-source-node-id, x-ptp-message-code, x-ptp-message-id, ...).
  std::map<std::string, std::string> headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class GatewayClient {
 public:
  // `node`: this platform's node id (the gateway's own), `key`: that node's token key.
  // `mac`: the token MAC of the gateway's crypto profile (g1 tokens under gm).
  GatewayClient(std::string url, std::string node, std::string key,
                MacDigest mac = MacDigest::kSha256, std::string provider_code = "PTPRC");
  ~GatewayClient();
  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  // Pushes `payload` to (target, session, topic). `meta`: extension fields sent as
  // x-ptp-<name> headers (message-id, message-code, job-id, ...). Returns the message id.
  std::string push(const std::string& target, const std::string& session, const std::string& topic,
                   std::string_view payload, const std::map<std::string, std::string>& meta = {});
  // Waits up to `timeout` (the gateway waits; at most 24 h) for the head message of (this
  // node, session, topic); nullopt when none came.
  std::optional<PoppedMessage> pop(const std::string& session, const std::string& topic,
                                   std::chrono::milliseconds timeout);
  std::optional<PoppedMessage> peek(const std::string& session, const std::string& topic);
  // Drops the topic's queue (an empty topic: the whole session) at this node.
  void release(const std::string& session, const std::string& topic);

  const std::string& node() const { return node_; }
  // Attempts of one request before its failure is reported (default 8).
  void set_attempts(int n) { attempts_ = n; }

  struct Conn;

 private:
  struct Reply;
  Reply call(std::string_view op, const std::string& target, const std::string& session,
             const std::map<std::string, std::string>& headers, std::string_view body,
             std::chrono::milliseconds wait);

  GatewayUrl url_;
  std::string node_;
  std::string key_;
  MacDigest mac_;
  std::string provider_;
  int attempts_ = 8;
  std::unique_ptr<Conn> conn_;
};

}  // namespace ptp::rc
