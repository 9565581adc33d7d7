#include <doctest/doctest.h>

#include "codecs/header_codec.h"

using namespace ptp;

namespace {

Envelope full_envelope() {
  Envelope e;
  e.header = {"1",      "VND",    "trace-1", "tok",    "/svc/run",
              "sess-1", "node-a", "node-b",  "inst-a", "inst-b"};
  e.meta = {{"message-topic", "t1"},  {"message-code", "42"},     {"timeout", "30"},
            {"job-id", "job-7"},      {"message-id", "m-1"},      {"x-ptp-route-path", "a,b"},
            {"x-ptp-hop-count", "2"}, {"message-topic-back", "r"}};
  return e;
}

}  // namespace

TEST_CASE("decode_headers maps canonical names, case-insensitively") {
  HeaderList in{{"X-PTP-Version", "1"},
                {"x-ptp-tech-provider-code", "VND"},
                {"X-Ptp-Trace-Id", "tr"},
                {"x-ptp-token", "tok"},
                {"x-ptp-uri", "/a"},
                {"x-ptp-session-id", "s"},
                {"x-ptp-source-node-id", "A"},
                {"x-ptp-target-node-id", "B"},
                {"x-ptp-source-inst-id", "IA"},
                {"x-ptp-target-inst-id", "IB"},
                {":path", "/v1/interconn/chan/invoke"},
                {"content-type", "application/json"},
                {"x-ptp-unknown-thing", "zzz"}};
  Envelope e;
  REQUIRE(decode_headers(in, e).ok());
  CHECK(e.header == PtpHeader{"1", "VND", "tr", "tok", "/a", "s", "A", "B", "IA", "IB"});
  CHECK(e.meta.empty());  // pseudo-headers, content-type and unknown names are ignored
}

TEST_CASE("decode_headers accepts the shipped aliases") {
  Envelope e;
  REQUIRE(decode_headers({{"x-ptp-from-node-id", "A"},
                          {"X-PTP-TECN-PROVIDER-CODE", "VND"},
                          {"x-ptp-task-session-id", "S1"}},
                         e)
              .ok());
  CHECK(e.header.source_node_id == "A");
  CHECK(e.header.tech_provider_code == "VND");
  CHECK(e.header.session_id == "S1");
}

TEST_CASE("decode_headers puts extension metadata under canonical names") {
  Envelope e;
  REQUIRE(decode_headers({{"x-ptp-topic", "t"},
                          {"x-ptp-timeout", "10"},
                          {"x-ptp-message-code", "c"},
                          {"message-offset", "5"},
                          {"Source-Component-Name", "sc"},
                          {"x-ptp-target-component-name", "tc"},
                          {"target-method", "m"},
                          {"instance-id", "i"},
                          {"timestamp", "123"},
                          {"message-flag", "f"},
                          {"message-topic-back", "rt"},
                          {"retry-count", "3"},
                          {"job-id", "j"},
                          {"message-id", "mid"},
                          {"x-ptp-route-path", "A,B"},
                          {"x-ptp-hop-count", "2"}},
                         e)
              .ok());
  CHECK(e.meta == Metadata{{"message-topic", "t"},
                           {"timeout", "10"},
                           {"message-code", "c"},
                           {"message-offset", "5"},
                           {"source-component-name", "sc"},
                           {"target-component-name", "tc"},
                           {"target-method", "m"},
                           {"instance-id", "i"},
                           {"timestamp", "123"},
                           {"message-flag", "f"},
                           {"message-topic-back", "rt"},
                           {"retry-count", "3"},
                           {"job-id", "j"},
                           {"message-id", "mid"},
                           {"x-ptp-route-path", "A,B"},
                           {"x-ptp-hop-count", "2"}});
  CHECK(e.header == PtpHeader{});
}

TEST_CASE("decode_headers rejects conflicting spellings of one field") {
  Envelope e;
  Status s = decode_headers({{"x-ptp-source-node-id", "A"}, {"x-ptp-from-node-id", "B"}}, e);
  CHECK(s.code == Code::kBadRequest);
  CHECK(s.message.find("x-ptp-source-node-id") != std::string::npos);

  s = decode_headers({{"message-topic", "t1"}, {"x-ptp-topic", "t2"}}, e);
  CHECK(s.code == Code::kBadRequest);
  CHECK(s.message.find("message-topic") != std::string::npos);

  s = decode_headers({{"x-ptp-token", "a"}, {"X-PTP-TOKEN", "b"}}, e);
  CHECK(s.code == Code::kBadRequest);
  CHECK(s.message.find("x-ptp-token") != std::string::npos);
}

TEST_CASE("decode_header one at a time equals decode_headers and keeps the first error") {
  const HeaderList in{{"X-PTP-Session-Id", "s1"},
                      {"x-ptp-topic", "t"},
                      {"message-topic", "t"},
                      {"x-ptp-trace-id", "tr"}};
  Envelope whole, stepwise;
  REQUIRE(decode_headers(in, whole).ok());
  HeaderDecodeState st;
  for (const auto& [k, v] : in) decode_header(k, v, stepwise, st);
  CHECK(st.error.ok());
  CHECK(stepwise.header == whole.header);
  CHECK(stepwise.meta == whole.meta);

  // A conflict in metadata (not a header member) is found by comparing with the stored value;
  // later headers do not replace the first error.
  Envelope e;
  HeaderDecodeState bad;
  decode_header("message-topic", "t1", e, bad);
  decode_header("x-ptp-topic", "t2", e, bad);
  decode_header("x-ptp-token", "a", e, bad);
  decode_header("x-ptp-token", "b", e, bad);
  CHECK(bad.error.code == Code::kBadRequest);
  CHECK(bad.error.message.find("message-topic") != std::string::npos);
  CHECK(e.meta.at("message-topic") == "t1");
}

TEST_CASE("decode_headers allows the same value twice and ignores empty values") {
  Envelope e;
  REQUIRE(decode_headers({{"x-ptp-source-node-id", "A"},
                          {"x-ptp-from-node-id", "A"},
                          {"x-ptp-target-node-id", ""},
                          {"x-ptp-target-node-id", "B"}},
                         e)
              .ok());
  CHECK(e.header.source_node_id == "A");
  CHECK(e.header.target_node_id == "B");
}

TEST_CASE("decode_headers leaves fields it did not see unchanged") {
  Envelope e;
  e.header.trace_id = "kept";
  e.body = "body";
  REQUIRE(decode_headers({{"x-ptp-token", "t"}}, e).ok());
  CHECK(e.header.trace_id == "kept");
  CHECK(e.header.token == "t");
  CHECK(e.body == "body");
}

TEST_CASE("encode_headers emits canonical names in order, non-empty only") {
  Envelope e;
  e.header.version = "1";
  e.header.session_id = "s";
  e.header.target_node_id = "B";
  e.meta = {{"message-topic", "t"}, {"x-ptp-route-path", "A"}, {"job-id", ""}};
  HeaderList want{{"x-ptp-version", "1"},
                  {"x-ptp-session-id", "s"},
                  {"x-ptp-target-node-id", "B"},
                  {"x-ptp-message-topic", "t"},
                  {"x-ptp-route-path", "A"}};
  CHECK(encode_headers(e) == want);
}

TEST_CASE("visit_encoded_headers yields encode_headers' list as views, prefix apart") {
  const Envelope e = full_envelope();
  HeaderList seen;
  size_t prefixed = 0;
  size_t static_names = 0;
  visit_encoded_headers(e, [&](std::string_view prefix, std::string_view name,
                               std::string_view value, bool name_is_static) {
    if (!prefix.empty()) {
      CHECK(prefix == "x-ptp-");
      ++prefixed;
    }
    if (name_is_static) {
      // Names said to be static point into the codec's table, never into the envelope.
      ++static_names;
      bool in_table = false;
      for (const auto& f : header_fields()) in_table = in_table || f.name.data() == name.data();
      CHECK(in_table);
    }
    seen.emplace_back(std::string(prefix) + std::string(name), std::string(value));
  });
  CHECK(seen == encode_headers(e));
  CHECK(prefixed == 6);  // the bare extension names; route-path and hop-count carry it
  CHECK(static_names == header_fields().size());
}

TEST_CASE("decode(encode(e)) round-trips header and metadata") {
  const Envelope e = full_envelope();
  HeaderList wire = encode_headers(e);
  CHECK(wire.size() == 18);
  Envelope back;
  REQUIRE(decode_headers(wire, back).ok());
  CHECK(back.header == e.header);
  CHECK(back.meta == e.meta);
}

TEST_CASE("header_fields lists the ten standard fields") {
  auto fields = header_fields();
  REQUIRE(fields.size() == 10);
  CHECK(fields.front().name == "x-ptp-version");
  CHECK(fields.back().name == "x-ptp-target-inst-id");
  PtpHeader h;
  h.*(fields[5].member) = "x";
  CHECK(h.session_id == "x");
}

TEST_CASE("metadata map conversion round-trips and accepts aliases") {
  const Envelope e = full_envelope();
  std::map<std::string, std::string> md{{"stale", "kept"}};
  header_to_metadata(e, md);
  CHECK(md.at("x-ptp-session-id") == "sess-1");
  CHECK(md.at("x-ptp-message-topic") == "t1");
  CHECK(md.at("stale") == "kept");
  Envelope back;
  REQUIRE(metadata_to_header(md, back).ok());
  CHECK(back.header == e.header);
  CHECK(back.meta == e.meta);

  Envelope alias;
  REQUIRE(metadata_to_header({{"x-ptp-from-node-id", "A"}, {"x-ptp-topic", "t"}}, alias).ok());
  CHECK(alias.header.source_node_id == "A");
  CHECK(alias.meta.at("message-topic") == "t");

  Status s = metadata_to_header({{"x-ptp-session-id", "a"}, {"x-ptp-task-session-id", "b"}}, alias);
  CHECK(s.code == Code::kBadRequest);
  CHECK(s.message.find("x-ptp-session-id") != std::string::npos);
}
