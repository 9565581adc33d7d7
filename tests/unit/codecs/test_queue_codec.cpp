#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "codecs/proto_codec.h"
#include "codecs/ptp.pb.h"
#include "codecs/ptp_legacy.pb.h"
#include "codecs/queue_codec.h"

using namespace ptp;
using std::chrono::milliseconds;

TEST_CASE("base64 round trip and rejection") {
  const std::string bin("\x00\xff\x10 ab\x7f", 7);
  for (size_t n = 0; n <= bin.size(); ++n) {
    auto enc = base64_encode(bin.substr(0, n));
    CHECK(enc.size() % 4 == 0);
    CHECK(base64_decode(enc) == bin.substr(0, n));
  }
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_decode("Zm8") == "fo");  // unpadded accepted
  CHECK_FALSE(base64_decode("Zm9v!"));
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zm9="));  // non-zero leftover bits
}

TEST_CASE("body format follows content type") {
  CHECK(queue_body_format("application/json", false) == QueueBodyFormat::kJson);
  CHECK(queue_body_format("application/json; charset=utf-8", false) == QueueBodyFormat::kJson);
  CHECK(queue_body_format("application/x-protobuf", false) == QueueBodyFormat::kProtobuf);
  CHECK(queue_body_format("application/octet-stream", false) == QueueBodyFormat::kRaw);
  CHECK(queue_body_format("", false) == QueueBodyFormat::kRaw);
  CHECK(queue_body_format("", true) == QueueBodyFormat::kProtobuf);
}

TEST_CASE("timeouts: units by suffix, else by dialect") {
  CHECK(parse_timeout("500ms", TimeoutUnit::kSeconds) == milliseconds(500));
  CHECK(parse_timeout("3s", TimeoutUnit::kMilliseconds) == milliseconds(3000));
  CHECK(parse_timeout("7", TimeoutUnit::kSeconds) == milliseconds(7000));
  CHECK(parse_timeout("7", TimeoutUnit::kMilliseconds) == milliseconds(7));
  CHECK_FALSE(parse_timeout("-1", TimeoutUnit::kSeconds));
  CHECK_FALSE(parse_timeout("abc", TimeoutUnit::kSeconds));
  CHECK_FALSE(parse_timeout("", TimeoutUnit::kSeconds));
  CHECK_FALSE(parse_timeout("90000", TimeoutUnit::kSeconds));  // over 24 h
}

TEST_CASE("query parameters are found and percent-decoded") {
  CHECK(query_param("a=1&topic=t%2F1&b", "topic") == "t/1");
  CHECK(query_param("topic=x+y", "topic") == "x y");
  CHECK_FALSE(query_param("a=1", "topic"));
}

TEST_CASE("JSON push: base64 payload, metadata, topic") {
  QueueRequest q;
  Envelope env;
  Status st = decode_queue_request(
      Interface::kPush, QueueBodyFormat::kJson, {},
      R"({"topic":"t1","payload":"AAEC","metadata":{"k":"v"},"timeout":"250ms"})", "", env, q);
  REQUIRE(st.ok());
  CHECK(q.topic == "t1");
  CHECK(q.payload == std::string("\x00\x01\x02", 3));
  CHECK(q.metadata.at("k") == "v");
  CHECK(q.timeout == milliseconds(250));
  CHECK(
      decode_queue_request(Interface::kPush, QueueBodyFormat::kJson, {}, "{bad", "", env, q).code ==
      Code::kCodecError);
  CHECK(decode_queue_request(Interface::kPush, QueueBodyFormat::kJson, {},
                             R"({"topic":"t","payload":"***"})", "", env, q)
            .code == Code::kCodecError);
  CHECK(decode_queue_request(Interface::kPush, QueueBodyFormat::kJson, {},
                             R"({"topic":5,"payload":""})", "", env, q)
            .code == Code::kCodecError);
}

TEST_CASE("protobuf push: the dialect picks the field layout") {
  org::ppc::ptp::PushInbound cur;
  cur.set_topic("topic-a");
  cur.set_payload("data");
  (*cur.mutable_metadata())["m"] = "1";
  org::ppc::ptp::legacy::PushInbound old;
  old.set_topic("topic-a");
  old.set_payload("data");
  QueueDialect legacy;
  legacy.legacy_push_layout = true;
  Envelope env;
  QueueRequest q;
  REQUIRE(decode_queue_request(Interface::kPush, QueueBodyFormat::kProtobuf, {},
                               cur.SerializeAsString(), "", env, q)
              .ok());
  CHECK(q.topic == "topic-a");
  CHECK(q.payload == "data");
  CHECK(q.metadata.at("m") == "1");
  REQUIRE(decode_queue_request(Interface::kPush, QueueBodyFormat::kProtobuf, legacy,
                               old.SerializeAsString(), "", env, q)
              .ok());
  CHECK(q.topic == "topic-a");
  CHECK(q.payload == "data");
  // Read with the wrong dialect the same bytes give swapped fields: never guessed.
  REQUIRE(decode_queue_request(Interface::kPush, QueueBodyFormat::kProtobuf, {},
                               old.SerializeAsString(), "", env, q)
              .ok());
  CHECK(q.topic == "data");
}

TEST_CASE("pop: timeout from body, query or header; unit from dialect") {
  org::ppc::ptp::PopInbound pop;
  pop.set_topic("t");
  pop.set_timeout(1500);
  QueueDialect ms;
  ms.timeout_unit = TimeoutUnit::kMilliseconds;
  Envelope env;
  QueueRequest q;
  REQUIRE(decode_queue_request(Interface::kPop, QueueBodyFormat::kProtobuf, ms,
                               pop.SerializeAsString(), "", env, q)
              .ok());
  CHECK(q.timeout == milliseconds(1500));
  REQUIRE(decode_queue_request(Interface::kPop, QueueBodyFormat::kProtobuf, {},
                               pop.SerializeAsString(), "", env, q)
              .ok());
  CHECK(q.timeout == milliseconds(1500 * 1000));
  // Raw: topic from the header, timeout from the query.
  env.meta["message-topic"] = "hdr-topic";
  REQUIRE(decode_queue_request(Interface::kPop, QueueBodyFormat::kRaw, {}, "", "timeout=2", env, q)
              .ok());
  CHECK(q.topic == "hdr-topic");
  CHECK(q.timeout == milliseconds(2000));
  Envelope none;
  CHECK(decode_queue_request(Interface::kPop, QueueBodyFormat::kRaw, {}, "", "", none, q).code ==
        Code::kBadRequest);
  CHECK(decode_queue_request(Interface::kPop, QueueBodyFormat::kRaw, {}, "", "topic=x&timeout=zz",
                             none, q)
            .code == Code::kBadRequest);
  // A whole-session release needs no topic.
  CHECK(decode_queue_request(Interface::kRelease, QueueBodyFormat::kRaw, {}, "", "", none, q).ok());
}

TEST_CASE("replies in each format") {
  Envelope m;
  m.header.session_id = "s1";
  m.header.source_node_id = "A";
  m.meta["message-topic"] = "t";
  m.body = std::string("\x00z", 2);
  QueueReply with{Status::Ok(), m};
  auto json = encode_queue_reply(QueueBodyFormat::kJson, {}, with);
  CHECK(json.content_type == "application/json");
  CHECK(json.body.find(R"("payload":"AHo=")") != std::string::npos);
  CHECK(json.body.find(R"("code":"E0000000000")") != std::string::npos);
  CHECK(json.body.find(R"("x-ptp-session-id":"s1")") != std::string::npos);

  auto proto = encode_queue_reply(QueueBodyFormat::kProtobuf, {}, with);
  Envelope back;
  REQUIRE(decode_transport_outbound(proto.body, TransportLayout::kCurrent, back).ok());
  CHECK(back.body == m.body);
  CHECK(back.header.session_id == "s1");
  QueueDialect legacy;
  legacy.reply_layout = TransportLayout::kLegacy;
  auto old = encode_queue_reply(QueueBodyFormat::kProtobuf, legacy, with);
  REQUIRE(decode_transport_outbound(old.body, TransportLayout::kLegacy, back).ok());
  CHECK(back.body == m.body);

  auto raw = encode_queue_reply(QueueBodyFormat::kRaw, {}, with);
  CHECK(raw.body == m.body);
  auto has = [&](const HeaderList& h, std::string n, std::string v) {
    for (const auto& [k, val] : h)
      if (k == n && val == v) return true;
    return false;
  };
  CHECK(has(raw.headers, "x-ptp-queue-result", "message"));
  CHECK(has(raw.headers, "x-ptp-session-id", "s1"));
  auto empty = encode_queue_reply(QueueBodyFormat::kRaw, {}, QueueReply{Status::Ok(), {}});
  CHECK(empty.body.empty());
  CHECK(has(empty.headers, "x-ptp-queue-result", "empty"));
}
