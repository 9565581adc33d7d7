// Signed gRPC streams (ptp-msg-v2): a gRPC client's stream signed with its message
// boundaries verifies at a receiver that gets the same messages over gRPC; the same bytes in
// other messages, or the stream re-encoded to HTTP/2 bytes on the way, is refused (615); a
// stream signed as bytes (v1) still verifies when it arrives as gRPC messages.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "gateway/evidence/stream_signing.h"
#include "tests/unit/trust/trust_test_support.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

struct Node {
  PublicKey pub;
  ConfigPtr cfg;
};

Node make_node(const std::string& id) {
  auto key = std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  PublicKey pub = testing::public_of(*key);
  auto cfg = std::make_shared<Config>();
  cfg->node_id = id;
  cfg->evidence.enabled = true;
  cfg->evidence.batch_window_us = 0;
  cfg->identity.node_key = key;
  return Node{std::move(pub), std::move(cfg)};
}

Request stream_request(WireProtocol wire) {
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

StreamEvidence evidence_of(const Node& n, MessageSigning& signing, const Node& other,
                           std::vector<Status>& refusals) {
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

struct Outcome {
  std::string signature;  // the trailer A sent
  Status answer;          // B's answer to the service's
  bool service_end_ok = false;
  std::vector<std::string> service_got;  // the messages B's service read
};

// Messages `sent` from A's client (over gRPC) signed by A (`messages`: boundaries too); B
// gets `arrived` (the same bytes, maybe other chunks) over `wire`.
Outcome run(boost::asio::io_context& io, const std::vector<std::string>& sent, bool messages,
            const std::vector<std::string>& arrived, WireProtocol wire) {
  Node a = make_node("A"), b = make_node("B");
  MessageSigning sa(io.get_executor()), sb(io.get_executor());
  std::vector<Status> refusals;
  Request sreq = stream_request(WireProtocol::kGrpc);
  auto client = sreq.stream;
  Responder sender_answer = [](Response&&) {};
  sign_stream(evidence_of(a, sa, b, refusals), sreq, sender_answer, messages);
  for (const auto& m : sent) client->write(m);
  client->finish();
  io.poll();
  io.restart();
  std::string chunk, bytes;
  while (sreq.stream->read_chunk(chunk)) bytes += chunk;
  Outcome o;
  o.signature = std::string(find_header(sreq.stream->trailers(), kSignatureHeader));
  Request rreq = stream_request(wire);
  auto in = rreq.stream;
  Responder answer = [&](Response&& r) { o.answer = r.env.status; };
  check_stream(evidence_of(b, sb, a, refusals), rreq, answer);
  for (const auto& m : arrived) in->write(m);
  for (const auto& [k, v] : sreq.stream->trailers()) in->add_trailer(k, v);
  in->finish();
  while (rreq.stream->read_chunk(chunk)) o.service_got.push_back(chunk);
  o.service_end_ok = rreq.stream->drained() && rreq.stream->status().ok();
  answer(Response{});
  io.poll();
  io.restart();
  return o;
}

}  // namespace

TEST_CASE("signed gRPC streams: the message boundaries are signed and checked") {
  boost::asio::io_context io;
  const std::vector<std::string> msgs = {"pay 100", " to alice", "; pay 5 to bob"};
  const std::vector<std::string> merged = {"pay 100 to alice", "; pay 5 to bob"};

  Outcome ok = run(io, msgs, true, msgs, WireProtocol::kGrpc);
  CHECK(ok.signature.starts_with("v2;"));
  CHECK(ok.answer.ok());
  CHECK(ok.service_end_ok);
  CHECK(ok.service_got == msgs);

  // The same bytes in other messages: refused, the service's stream is reset.
  Outcome re = run(io, msgs, true, merged, WireProtocol::kGrpc);
  CHECK(re.answer.code == Code::kBadCertSignature);
  CHECK(re.answer.message.find("does not match what arrived") != std::string::npos);
  CHECK_FALSE(re.service_end_ok);

  // Re-encoded to HTTP/2 bytes on the way: the messages cannot be checked there.
  Outcome h2 = run(io, msgs, true, msgs, WireProtocol::kHttp2);
  CHECK(h2.answer.code == Code::kBadCertSignature);
  CHECK(h2.answer.message.find("arrived here as HTTP/2 bytes") != std::string::npos);
  CHECK_FALSE(h2.service_end_ok);

  // Signed as bytes (v1: the sender's next hop was HTTP/2): any split verifies, over gRPC
  // (a later hop made messages of it) or HTTP/2.
  for (WireProtocol wire : {WireProtocol::kGrpc, WireProtocol::kHttp2}) {
    Outcome v1 = run(io, msgs, false, merged, wire);
    CHECK(v1.signature.starts_with("v1;"));
    CHECK(v1.answer.ok());
    CHECK(v1.service_end_ok);
  }
}

TEST_CASE("stream relay: the messages' digest is over them framed as gRPC frames them") {
  auto in = std::make_shared<BodyPipe>();
  auto relay = std::make_shared<StreamRelay>(
      in, DigestAlgorithm::kSha256, [](StreamRelay&, const Status&) {}, nullptr);
  relay->digest_messages(DigestAlgorithm::kSha256);
  auto out = relay->start();
  in->write("ab");
  in->write(std::string(300, 'c'));
  in->finish();
  std::string chunk;
  while (out->read_chunk(chunk)) {
  }
  const std::string framed = std::string("\0\0\0\0\x02", 5) + "ab" +
                             std::string("\0\0\0\x01\x2c", 5) + std::string(300, 'c');
  REQUIRE(relay->framed());
  CHECK(relay->framed()->first == framed.size());
  CHECK(relay->framed()->second == digest(DigestAlgorithm::kSha256, framed));
  CHECK(relay->digest() == digest(DigestAlgorithm::kSha256, "ab" + std::string(300, 'c')));
}

}  // namespace ptp
