// What the signed-stream unit tests share: a node with a P-256 key and an evidence section
// (batches signed at the end of the loop's turn), a transport stream request from A to B,
// and the StreamEvidence of a node that knows one other node's key.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/evidence/stream_signing.h"
#include "tests/unit/trust/trust_test_support.h"

namespace ptp::testing {

struct StreamNode {
  PublicKey pub;
  ConfigPtr cfg;
};

inline StreamNode stream_node(const std::string& id) {
  auto key = std::make_shared<const NodeKey>(make_key(KeyAlgorithm::kEcdsaP256));
  PublicKey pub = public_of(*key);
  auto cfg = std::make_shared<Config>();
  cfg->node_id = id;
  cfg->evidence.enabled = true;
  cfg->evidence.batch_window_us = 0;
  cfg->identity.node_key = key;
  return StreamNode{std::move(pub), std::move(cfg)};
}

inline Request stream_request(WireProtocol wire = WireProtocol::kHttp1) {
  Request req;
  req.iface = Interface::kTransport;
  req.wire = wire;
  auto& h = req.env.header;
  h.source_node_id = "A";
  h.target_node_id = "B";
  h.session_id = "s-1";
  h.trace_id = "t-1";
  h.uri = "ptp/stream";
  req.stream = std::make_shared<BodyPipe>();
  return req;
}

// `n`'s evidence, knowing `other`'s key only; refusals are collected in `refusals`.
inline StreamEvidence evidence_of(const StreamNode& n, MessageSigning& signing,
                                  const StreamNode& other, std::vector<Status>& refusals) {
  StreamEvidence ev;
  ev.cfg = n.cfg;
  ev.signing = &signing;
  ev.key_of = [&other](std::string_view node, std::string& error) -> const PublicKey* {
    if (node == other.cfg->node_id) return &other.pub;
    error = "no root";
    return nullptr;
  };
  ev.warn = [](std::string_view, const PtpHeader&, const Status&) {};
  ev.refused = [&refusals](const PtpHeader&, Interface, const Status& st) {
    refusals.push_back(st);
  };
  return ev;
}

}  // namespace ptp::testing
