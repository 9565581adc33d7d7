// Signed streams: the relay passes chunks on unchanged, bounded ahead of its consumer, and
// holds the end until told; a stream signed by sign_stream (trailer) verifies at
// check_stream, whose answer then carries the receipt; a flipped byte or a missing
// signature (require_signature) ends the service's stream with an error and answers 615.
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

// Everything the consumer can take from `out` now.
std::string drain(BodyPipe& out) {
  std::string all, chunk;
  while (out.read_chunk(chunk)) all += chunk;
  return all;
}

}  // namespace

TEST_CASE("stream relay: chunks pass in order, bounded ahead, the end waits for finish()") {
  auto in = std::make_shared<BodyPipe>();
  int ended = 0;
  Status in_status = Status::Error(Code::kSystemError, "not called");
  auto relay = std::make_shared<StreamRelay>(
      in, DigestAlgorithm::kSha256,
      [&](StreamRelay&, const Status& st) {
        ++ended;
        in_status = st;
      },
      nullptr);
  auto out = relay->start();
  const std::string chunk(32 << 10, 'x');
  std::string sent;
  for (int i = 0; i < 8; ++i) {
    std::string c = chunk;
    c[0] = static_cast<char>('a' + i);
    sent += c;
    in->write(std::move(c));
  }
  // Not all of it: the relay stops kAhead ahead of the consumer.
  CHECK(out->buffered() >= StreamRelay::kAhead);
  CHECK(out->buffered() < StreamRelay::kAhead + chunk.size());
  CHECK(in->buffered() == sent.size() - out->buffered());
  in->finish();
  std::string got = drain(*out);  // each read lets the relay move more
  CHECK(got == sent);
  CHECK(ended == 1);
  CHECK(in_status.ok());
  CHECK(relay->size() == sent.size());
  CHECK(relay->digest() == digest(DigestAlgorithm::kSha256, sent));
  CHECK_FALSE(out->finished());  // held until told
  relay->add_trailer("x-ptp-signature", "v1;sig");
  relay->finish(Status::Ok());
  CHECK(out->drained());
  CHECK(out->status().ok());
  CHECK(find_header(out->trailers(), "x-ptp-signature") == "v1;sig");
}

TEST_CASE("stream relay: a failed input ends it, a cancelled output cancels the input") {
  auto in = std::make_shared<BodyPipe>();
  Status seen;
  auto relay = std::make_shared<StreamRelay>(
      in, DigestAlgorithm::kSha256, [&](StreamRelay&, const Status& st) { seen = st; }, nullptr);
  auto out = relay->start();
  in->write("abc");
  in->finish(Status::Error(Code::kBadRequest, "client closed the stream early"));
  CHECK(seen.code == Code::kBadRequest);

  auto in2 = std::make_shared<BodyPipe>();
  bool gone = false;
  auto relay2 = std::make_shared<StreamRelay>(
      in2, DigestAlgorithm::kSha256, [](StreamRelay&, const Status&) {}, [&] { gone = true; });
  auto out2 = relay2->start();
  in2->write("abc");
  out2->cancel();
  CHECK(gone);
  CHECK(in2->cancelled());
}

TEST_CASE("signed streams: the trailer verifies at the receiver; a flipped byte or none is 615") {
  boost::asio::io_context io;
  testing::StreamNode a = testing::stream_node("A"), b = testing::stream_node("B");
  MessageSigning sa(io.get_executor()), sb(io.get_executor());
  std::vector<Status> refusals;
  const std::string body = std::string(100000, 'p') + "pay 100 to alice";

  // One stream A -> B; `alter` changes what B gets; `sign` false: no signature at all.
  auto run = [&](bool alter, bool sign, Response& answered, bool& service_end_ok) {
    Request sreq = testing::stream_request();
    auto client = sreq.stream;
    Responder sender_answer = [](Response&&) {};
    if (sign) sign_stream(testing::evidence_of(a, sa, b, refusals), sreq, sender_answer, false);
    client->write(body.substr(0, 50000));
    client->write(body.substr(50000));
    client->finish();
    io.poll();  // the batch is signed at the end of the loop's turn
    io.restart();
    // What arrives at B: the bytes, maybe altered, and the trailers.
    Request rreq = testing::stream_request();
    auto wire = rreq.stream;
    std::string bytes = drain(*sreq.stream);
    REQUIRE(sreq.stream->drained());
    CHECK(sreq.stream->status().ok());
    if (alter) bytes[bytes.size() / 2] ^= 1;
    wire->write(bytes);
    for (const auto& [k, v] : sreq.stream->trailers()) wire->add_trailer(k, v);
    bool answer_called = false;
    Responder answer = [&](Response&& r) {
      answered = std::move(r);
      answer_called = true;
    };
    check_stream(testing::evidence_of(b, sb, a, refusals), rreq, answer);
    auto service = rreq.stream;  // what B's service reads
    wire->finish();
    CHECK(drain(*service) == bytes);
    REQUIRE(service->drained());
    service_end_ok = service->status().ok();
    // The service answers once it saw the end (or B answered already).
    answer(Response{});
    io.poll();
    io.restart();
    CHECK(answer_called);
  };

  Response r;
  bool end_ok = false;
  run(false, true, r, end_ok);
  CHECK(end_ok);
  CHECK(r.env.status.ok());
  CHECK(find_header(r.extra_headers, kReceiptHeader).starts_with("v1;"));
  CHECK(refusals.empty());

  run(true, true, r, end_ok);
  CHECK_FALSE(end_ok);  // the service's stream ends with an error: it is reset
  CHECK(r.env.status.code == Code::kBadCertSignature);
  CHECK(r.env.status.message.find("does not match what arrived") != std::string::npos);
  CHECK(find_header(r.extra_headers, kReceiptHeader).empty());
  CHECK(refusals.size() == 1);

  run(false, false, r, end_ok);
  CHECK_FALSE(end_ok);
  CHECK(r.env.status.code == Code::kBadCertSignature);
  CHECK(r.env.status.message.find("carries no x-ptp-signature") != std::string::npos);
  CHECK(refusals.size() == 2);

  // Without require_signature an unsigned stream passes (no receipt); a bad one still fails.
  auto lenient = std::make_shared<Config>(*b.cfg);
  lenient->evidence.require_signature = false;
  b.cfg = lenient;
  run(false, false, r, end_ok);
  CHECK(end_ok);
  CHECK(r.env.status.ok());
  CHECK(find_header(r.extra_headers, kReceiptHeader).empty());
  run(true, true, r, end_ok);
  CHECK_FALSE(end_ok);
  CHECK(r.env.status.code == Code::kBadCertSignature);
  CHECK(refusals.size() == 3);
}

TEST_CASE("signed streams: an answer begun before the check ends with the receipt, or 615") {
  boost::asio::io_context io;
  testing::StreamNode a = testing::stream_node("A"), b = testing::stream_node("B");
  MessageSigning sa(io.get_executor()), sb(io.get_executor());
  std::vector<Status> refusals;
  for (bool alter : {false, true}) {
    CAPTURE(alter);
    Request sreq = testing::stream_request();
    auto client = sreq.stream;
    Responder sender_answer = [](Response&&) {};
    sign_stream(testing::evidence_of(a, sa, b, refusals), sreq, sender_answer, false);
    Request rreq = testing::stream_request();
    auto wire = rreq.stream;
    Response answered;
    int calls = 0;
    Responder answer = [&](Response&& r) {
      answered = std::move(r);
      ++calls;
    };
    check_stream(testing::evidence_of(b, sb, a, refusals), rreq, answer);
    // The service answers with a stream at once, and ends it before the request ends.
    Response early;
    auto service_answer = std::make_shared<BodyPipe>();
    early.stream = service_answer;
    answer(std::move(early));
    REQUIRE(calls == 1);  // the head went back
    REQUIRE(answered.stream);
    service_answer->write("ack");
    service_answer->finish();
    CHECK(drain(*answered.stream) == "ack");
    CHECK_FALSE(answered.stream->finished());  // its end waits for the check
    client->write("the body");
    client->finish();
    io.poll();
    io.restart();
    std::string bytes = drain(*sreq.stream);
    if (alter) bytes[0] ^= 1;
    wire->write(bytes);
    for (const auto& [k, v] : sreq.stream->trailers()) wire->add_trailer(k, v);
    wire->finish();
    io.poll();  // the receipt's batch
    io.restart();
    CHECK(calls == 1);
    REQUIRE(answered.stream->finished());
    if (alter) {
      CHECK(answered.stream->status().code == Code::kBadCertSignature);
      CHECK(find_header(answered.stream->trailers(), kReceiptHeader).empty());
    } else {
      CHECK(answered.stream->status().ok());
      CHECK(find_header(answered.stream->trailers(), kReceiptHeader).starts_with("v1;"));
    }
  }
  CHECK(refusals.size() == 1);
}

TEST_CASE("signed streams: the sender passes trailer receipts on only with receipt_to_client") {
  boost::asio::io_context io;
  for (bool to_client : {false, true}) {
    CAPTURE(to_client);
    testing::StreamNode a = testing::stream_node("A"), b = testing::stream_node("B");
    auto cfg = std::make_shared<Config>(*a.cfg);
    cfg->evidence.receipt_to_client = to_client;
    a.cfg = cfg;
    MessageSigning sa(io.get_executor());
    std::vector<Status> refusals;
    Request sreq = testing::stream_request();
    Response client_gets;
    int calls = 0;
    Responder sender_answer = [&](Response&& r) {
      client_gets = std::move(r);
      ++calls;
    };
    sign_stream(testing::evidence_of(a, sa, b, refusals), sreq, sender_answer, false);
    // B's answer streams back; its receipt and a router's countersign come in its trailers.
    Response from_b;
    auto b_stream = std::make_shared<BodyPipe>();
    from_b.stream = b_stream;
    sender_answer(std::move(from_b));
    REQUIRE(calls == 1);
    REQUIRE(client_gets.stream);
    b_stream->write("ack");
    b_stream->add_trailer(kReceiptHeader, "v1;a-receipt");
    b_stream->add_trailer(kCountersignHeader, "v1;a-countersign");
    b_stream->add_trailer("x-service-trailer", "kept");
    b_stream->finish();
    io.poll();
    io.restart();
    CHECK(drain(*client_gets.stream) == "ack");
    REQUIRE(client_gets.stream->finished());
    const HeaderList& t = client_gets.stream->trailers();
    CHECK(find_header(t, "x-service-trailer") == "kept");
    CHECK(find_header(t, kReceiptHeader) == (to_client ? "v1;a-receipt" : ""));
    CHECK(find_header(t, kCountersignHeader) == (to_client ? "v1;a-countersign" : ""));
  }
}

}  // namespace ptp
