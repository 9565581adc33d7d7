#include <doctest/doctest.h>

#include "codecs/proto_codec.h"
#include "codecs/ptp.pb.h"

using namespace ptp;

namespace {

Envelope sample() {
  Envelope e;
  e.header = {"1", "VND", "tr-1", "tok", "/svc", "s-1", "A", "B", "IA", ""};
  e.meta = {{"message-topic", "t"}, {"x-ptp-route-path", "A"}};
  e.body = std::string("bin\0ary", 7);
  return e;
}

}  // namespace

TEST_CASE("Inbound round trip") {
  const Envelope e = sample();
  std::string bytes = encode_inbound(e);
  org::ppc::ptp::Inbound m;
  REQUIRE(m.ParseFromString(bytes));
  CHECK(m.payload() == e.body);
  CHECK(m.metadata().at("x-ptp-session-id") == "s-1");
  CHECK(m.metadata().at("x-ptp-message-topic") == "t");
  CHECK(m.metadata().count("x-ptp-target-inst-id") == 0);

  Envelope back;
  back.status = Status::Error(Code::kTimeout, "stale");  // replaced by decode
  REQUIRE(decode_inbound(bytes, back).ok());
  CHECK(back.header == e.header);
  CHECK(back.meta == e.meta);
  CHECK(back.body == e.body);
  CHECK(back.status.ok());
}

TEST_CASE("Inbound from another implementation: aliases in the metadata map") {
  org::ppc::ptp::Inbound m;
  (*m.mutable_metadata())["x-ptp-from-node-id"] = "A";
  (*m.mutable_metadata())["x-ptp-tecn-provider-code"] = "VND";
  (*m.mutable_metadata())["x-ptp-topic"] = "t";
  m.set_payload("p");
  Envelope e;
  REQUIRE(decode_inbound(m.SerializeAsString(), e).ok());
  CHECK(e.header.source_node_id == "A");
  CHECK(e.header.tech_provider_code == "VND");
  CHECK(e.meta.at("message-topic") == "t");
  CHECK(e.body == "p");

  (*m.mutable_metadata())["x-ptp-source-node-id"] = "Z";
  Status s = decode_inbound(m.SerializeAsString(), e);
  CHECK(s.code == Code::kBadRequest);
  CHECK(e.header.source_node_id == "A");  // unchanged on failure
}

TEST_CASE("malformed protobuf is a codec error") {
  Envelope e;
  e.body = "keep";
  const std::string bad[] = {std::string("\x0a\xff", 2), std::string("\xff\xff\xff", 3),
                             std::string("\x12\x05", 2) + "ab", std::string("\x00", 1)};
  for (const auto& b : bad) {
    Status s = decode_inbound(b, e);
    CHECK(s.code == Code::kCodecError);
    CHECK(s.message == "malformed Inbound protobuf");
    CHECK(decode_outbound(b, e).code == Code::kCodecError);
    CHECK(decode_transport_outbound(b, TransportLayout::kCurrent, e).code == Code::kCodecError);
    CHECK(decode_transport_outbound(b, TransportLayout::kLegacy, e).code == Code::kCodecError);
  }
  CHECK(e.body == "keep");
  // Empty input is a valid empty message.
  CHECK(decode_inbound("", e).ok());
  CHECK(e.body.empty());
}

TEST_CASE("Outbound success round trip") {
  Envelope e = sample();
  e.status = Status{Code::kOk, "done", {}};
  std::string bytes = encode_outbound(e);
  org::ppc::ptp::Outbound m;
  REQUIRE(m.ParseFromString(bytes));
  CHECK(m.code() == "E0000000000");
  CHECK(m.message() == "done");
  Envelope back;
  REQUIRE(decode_outbound(bytes, back).ok());
  CHECK(back.status.ok());
  CHECK(back.status.message == "done");
  CHECK(back.body == e.body);
  CHECK(back.header == e.header);
  CHECK(back.meta == e.meta);
}

TEST_CASE("Outbound error carries the full text and decodes back to the same status") {
  Envelope e;
  e.status = Status::Error(Code::kUnreachable, "connect refused: port 7304", "node-B");
  std::string bytes = encode_outbound(e);
  org::ppc::ptp::Outbound m;
  REQUIRE(m.ParseFromString(bytes));
  CHECK(m.code() == "E0000000607");
  CHECK(m.message() ==
        "E0000000607 network unreachable at node node-B: connect refused: port 7304");
  Envelope back;
  REQUIRE(decode_outbound(bytes, back).ok());
  CHECK(back.status.code == Code::kUnreachable);
  CHECK(back.status.hop == "node-B");
  CHECK(back.status.message == "connect refused: port 7304");
  // Relaying does not nest the text.
  CHECK(encode_outbound(back) == bytes);

  e.status = Status::Error(Code::kForbidden, "");
  REQUIRE(decode_outbound(encode_outbound(e), back).ok());
  CHECK(back.status.code == Code::kForbidden);
  CHECK(back.status.message.empty());
  CHECK(back.status.hop.empty());
}

TEST_CASE("Outbound codes from other implementations") {
  org::ppc::ptp::Outbound m;
  Envelope e;

  REQUIRE(decode_outbound(m.SerializeAsString(), e).ok());  // empty code
  CHECK(e.status.ok());

  m.set_code("E0000000618");
  m.set_message("peer says no");
  REQUIRE(decode_outbound(m.SerializeAsString(), e).ok());
  CHECK(e.status.code == Code::kNotPeered);
  CHECK(e.status.message == "peer says no");
  CHECK(e.status.hop.empty());

  m.set_code("E0000000999");
  m.set_message("odd");
  REQUIRE(decode_outbound(m.SerializeAsString(), e).ok());
  CHECK(e.status.code == Code::kUnknown);
  CHECK(e.status.message.find("E0000000999") != std::string::npos);
  CHECK(e.status.message.find("odd") != std::string::npos);

  m.set_code("0");
  m.set_message("");
  REQUIRE(decode_outbound(m.SerializeAsString(), e).ok());
  CHECK(e.status.ok());

  // Text that only looks like ours keeps its full form.
  m.set_code("E0000000403");
  m.set_message("E0000000403 not authorized at node bad id: x");
  REQUIRE(decode_outbound(m.SerializeAsString(), e).ok());
  CHECK(e.status.hop.empty());
  CHECK(e.status.message == "E0000000403 not authorized at node bad id: x");
}

TEST_CASE("TransportOutbound current layout") {
  Envelope e = sample();
  e.status = Status::Error(Code::kSessionReleased, "gone");
  std::string bytes = encode_transport_outbound(e, TransportLayout::kCurrent);
  org::ppc::ptp::TransportOutbound m;
  REQUIRE(m.ParseFromString(bytes));
  CHECK(m.payload() == e.body);
  CHECK(m.code() == "E0000000608");
  CHECK(m.metadata().at("x-ptp-trace-id") == "tr-1");
  Envelope back;
  REQUIRE(decode_transport_outbound(bytes, TransportLayout::kCurrent, back).ok());
  CHECK(back.status.code == Code::kSessionReleased);
  CHECK(back.status.message == "gone");
  CHECK(back.body == e.body);
  CHECK(back.header == e.header);
}

TEST_CASE("TransportOutbound legacy layout: payload=1 code=2 message=3") {
  Envelope e;
  e.body = "pl";
  e.status = Status{Code::kOk, "m", {}};
  std::string bytes = encode_transport_outbound(e, TransportLayout::kLegacy);
  CHECK(bytes ==
        std::string("\x0a\x02pl\x12\x0b", 6) + "E0000000000" + std::string("\x1a\x01m", 3));

  Envelope back;
  REQUIRE(decode_transport_outbound(bytes, TransportLayout::kLegacy, back).ok());
  CHECK(back.body == "pl");
  CHECK(back.status.ok());
  CHECK(back.status.message == "m");

  e.meta["message-topic"] = "dropped";  // the legacy layout has no metadata
  e.status = Status::Error(Code::kBufferFull, "queue full", "R");
  REQUIRE(decode_transport_outbound(encode_transport_outbound(e, TransportLayout::kLegacy),
                                    TransportLayout::kLegacy, back)
              .ok());
  CHECK(back.status.code == Code::kBufferFull);
  CHECK(back.status.hop == "R");
  CHECK(back.status.message == "queue full");
  CHECK(back.meta.empty());
}

TEST_CASE("legacy decoder skips unknown fields and rejects wrong wire types") {
  Envelope back;
  // field 5 varint 7, then payload "x".
  REQUIRE(
      decode_transport_outbound(std::string("\x28\x07\x0a\x01x", 5), TransportLayout::kLegacy, back)
          .ok());
  CHECK(back.body == "x");
  // field 2 (code) sent as a varint.
  CHECK(
      decode_transport_outbound(std::string("\x10\x01", 2), TransportLayout::kLegacy, back).code ==
      Code::kCodecError);
  // invalid UTF-8 in the code string.
  CHECK(decode_transport_outbound(std::string("\x12\x01\xff", 3), TransportLayout::kLegacy, back)
            .code == Code::kCodecError);
}

TEST_CASE("the two layouts are not interchangeable") {
  Envelope e;
  e.body = "payload";
  e.status = Status{Code::kOk, "", {}};
  std::string legacy = encode_transport_outbound(e, TransportLayout::kLegacy);
  std::string current = encode_transport_outbound(e, TransportLayout::kCurrent);
  CHECK(legacy != current);
  Envelope back;
  // Current bytes read as legacy: field 2 (payload) is taken for the code.
  REQUIRE(decode_transport_outbound(current, TransportLayout::kLegacy, back).ok());
  CHECK(back.body.empty());
  CHECK(back.status.code == Code::kUnknown);
}
