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
#include "tests/unit/gateway/evidence/stream_signing_support.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

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
  testing::StreamNode a = testing::stream_node("A"), b = testing::stream_node("B");
  MessageSigning sa(io.get_executor()), sb(io.get_executor());
  std::vector<Status> refusals;
  Request sreq = testing::stream_request(WireProtocol::kGrpc);
  auto client = sreq.stream;
  Responder sender_answer = [](Response&&) {};
  sign_stream(testing::evidence_of(a, sa, b, refusals), sreq, sender_answer, messages);
  for (const auto& m : sent) client->write(m);
  client->finish();
  io.poll();
  io.restart();
  std::string chunk, bytes;
  while (sreq.stream->read_chunk(chunk)) bytes += chunk;
  Outcome o;
  o.signature = std::string(find_header(sreq.stream->trailers(), kSignatureHeader));
  Request rreq = testing::stream_request(wire);
  auto in = rreq.stream;
  Responder answer = [&](Response&& r) { o.answer = r.env.status; };
  check_stream(testing::evidence_of(b, sb, a, refusals), rreq, answer);
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
