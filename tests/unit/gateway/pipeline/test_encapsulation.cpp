#include <doctest/doctest.h>

#include <string>

#include "codecs/encapsulated_codec.h"
#include "codecs/ptp.pb.h"
#include "gateway/forward/encapsulated_body.h"
#include "gateway/pipeline/encapsulation.h"

using namespace ptp;

namespace {

EncapsulatedMessage sample() {
  EncapsulatedMessage m;
  m.metadata = {{"x-ptp-session-id", "s-1"}, {"x-ptp-trace-id", "t-1"}};
  m.payload = std::string("\0\x01\xff payload", 11);
  return m;
}

}  // namespace

TEST_CASE("encapsulated format follows the content type, as the container interfaces do") {
  CHECK(encapsulated_format("application/json") == EncapsulatedFormat::kJson);
  CHECK(encapsulated_format("application/json; charset=utf-8") == EncapsulatedFormat::kJson);
  CHECK(encapsulated_format("application/x-protobuf") == EncapsulatedFormat::kProtobuf);
  CHECK(encapsulated_format("application/protobuf") == EncapsulatedFormat::kProtobuf);
  CHECK_FALSE(encapsulated_format("application/octet-stream"));
  CHECK_FALSE(encapsulated_format(""));
}

TEST_CASE("Inbound and Outbound round-trip in both serializations") {
  for (auto f : {EncapsulatedFormat::kJson, EncapsulatedFormat::kProtobuf}) {
    CAPTURE(format_name(f));
    EncapsulatedMessage in = sample(), got;
    REQUIRE(decode_encapsulated(f, EncapsulatedKind::kInbound,
                                encode_encapsulated(f, EncapsulatedKind::kInbound, in), got)
                .ok());
    CHECK(got.metadata == in.metadata);
    CHECK(got.payload == in.payload);
    EncapsulatedMessage out = sample();
    out.code = "E0000000404";
    out.message = "not here";
    REQUIRE(decode_encapsulated(f, EncapsulatedKind::kOutbound,
                                encode_encapsulated(f, EncapsulatedKind::kOutbound, out), got)
                .ok());
    CHECK(got.code == "E0000000404");
    CHECK(got.message == "not here");
    CHECK(got.payload == out.payload);
  }
  // The protobuf form is org.ppc.ptp.Inbound itself.
  org::ppc::ptp::Inbound pb;
  REQUIRE(pb.ParseFromString(
      encode_encapsulated(EncapsulatedFormat::kProtobuf, EncapsulatedKind::kInbound, sample())));
  CHECK(pb.metadata().at("x-ptp-session-id") == "s-1");
  // The JSON form: base64 payload.
  EncapsulatedMessage j;
  REQUIRE(decode_encapsulated(EncapsulatedFormat::kJson, EncapsulatedKind::kInbound,
                              R"({"metadata":{"k":"v"},"payload":"aGk="})", j)
              .ok());
  CHECK(j.payload == "hi");
  CHECK(j.metadata.at("k") == "v");
}

TEST_CASE("malformed encapsulated bodies are codec errors naming the problem") {
  auto fails = [](EncapsulatedFormat f, std::string_view body, std::string_view why) {
    EncapsulatedMessage m;
    Status s = decode_encapsulated(f, EncapsulatedKind::kInbound, body, m);
    CHECK(s.code == Code::kCodecError);
    CHECK(s.message.find(why) != std::string::npos);
  };
  const auto json = EncapsulatedFormat::kJson;
  fails(json, "[1]", "not a JSON object");
  fails(json, "{", "not a JSON object");
  fails(json, R"({"payload": 5})", "payload must be a string");
  fails(json, R"({"payload": "***"})", "payload is not valid base64");
  fails(json, R"({"metadata": [1]})", "metadata must be an object");
  fails(json, R"({"metadata": {"k": 1}})", "metadata value k must be a string");
  fails(json, R"({"metadata": {"k": {"deep": {"deeper": "x"}}}})", "nested deeper");
  fails(EncapsulatedFormat::kProtobuf, "\xff\xff\xff", "not an Inbound");
}

TEST_CASE("decapsulate: header fields from the metadata, HTTP headers must agree") {
  Envelope env;
  EncapsulatedMessage m = sample();
  m.metadata["x-ptp-version"] = "1.1.0";
  m.metadata["x-ptp-target-node-id"] = "B";
  m.metadata["x-ptp-topic"] = "t";
  env.body = encode_encapsulated(EncapsulatedFormat::kJson, EncapsulatedKind::kInbound, m);
  env.content_type = "application/json";
  env.header.target_node_id = "B";  // also given as an HTTP header, the same value
  REQUIRE(decapsulate(EncapsulatedFormat::kJson, env).ok());
  CHECK(env.header.session_id == "s-1");
  CHECK(env.header.trace_id == "t-1");
  CHECK(env.header.version == "1");  // from here on, as if sent pass-through
  CHECK(env.meta.at("message-topic") == "t");
  CHECK(env.body == m.payload);
  CHECK(env.content_type.empty());

  Envelope other;
  other.header.session_id = "s-2";
  other.body = encode_encapsulated(EncapsulatedFormat::kProtobuf, EncapsulatedKind::kInbound, m);
  Status s = decapsulate(EncapsulatedFormat::kProtobuf, other);
  CHECK(s.code == Code::kBadRequest);
  CHECK(s.message ==
        "header x-ptp-session-id differs between the HTTP header and the encapsulated Inbound's "
        "metadata");
}

TEST_CASE("an encapsulated answer is an Outbound; a legacy peer's Outbound decides the outcome") {
  Response r = error_response(Status::Error(Code::kNotFound, "no service", "B"));
  r.env.header.trace_id = "t-1";
  r.extra_headers.emplace_back("content-type", "text/plain");
  Response wrapped = encapsulate_response(std::move(r), EncapsulatedFormat::kProtobuf);
  CHECK(wrapped.env.status.code == Code::kNotFound);  // the HTTP status says it too
  CHECK(find_header(wrapped.extra_headers, "content-type") == "application/x-protobuf");
  org::ppc::ptp::Outbound out;
  REQUIRE(out.ParseFromString(wrapped.env.body));
  CHECK(out.code() == "E0000000404");
  CHECK(out.message() == "no service");
  CHECK(out.metadata().at("x-ptp-hop") == "B");
  CHECK(out.metadata().at("x-ptp-trace-id") == "t-1");
  CHECK(out.metadata().at("content-type") == "text/plain");

  // Read back as a legacy peer's answer (HTTP 404 and the Outbound agree).
  Response back = response_from_encapsulated_http(
      404, HeaderList{{"content-type", "application/x-protobuf"}}, wrapped.env.body, "B");
  CHECK(back.env.status.code == Code::kNotFound);
  CHECK(back.env.status.message == "no service");
  CHECK(back.env.status.hop == "B");

  EncapsulatedMessage ok;
  ok.code = "E0000000000";
  ok.payload = "answer";
  ok.metadata["x-vendor"] = "v";
  back = response_from_encapsulated_http(
      200, HeaderList{{"content-type", "application/json"}},
      encode_encapsulated(EncapsulatedFormat::kJson, EncapsulatedKind::kOutbound, ok), "B");
  CHECK(back.env.status.ok());
  CHECK(back.env.body == "answer");
  CHECK(find_header(back.extra_headers, "x-vendor") == "v");

  // Not an Outbound (a proxy's page): read as any HTTP answer.
  back = response_from_encapsulated_http(502, HeaderList{{"content-type", "text/html"}},
                                         "<html>bad gateway</html>", "B");
  CHECK_FALSE(back.env.status.ok());
  CHECK(back.env.status.message.find("HTTP 502 from B") != std::string::npos);
}

TEST_CASE("encapsulated requests to a peer leave x-ptp-version out") {
  Envelope env;
  env.header.version = "1";
  env.header.session_id = "s-1";
  env.meta["message-topic"] = "t";
  env.body = "p";
  EncapsulatedMessage m;
  REQUIRE(decode_encapsulated(EncapsulatedFormat::kJson, EncapsulatedKind::kInbound,
                              encapsulated_request_body(env, EncapsulatedFormat::kJson), m)
              .ok());
  CHECK(m.metadata.count("x-ptp-version") == 0);
  CHECK(m.metadata.at("x-ptp-session-id") == "s-1");
  CHECK(m.metadata.at("x-ptp-message-topic") == "t");
  CHECK(m.payload == "p");
}
