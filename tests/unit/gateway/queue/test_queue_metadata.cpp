// Queued message metadata (gateway/queue/queue_metadata.h): the push rules, the node-to-node
// carrier, and the last check before a pop answer's headers are written.
#include <doctest/doctest.h>

#include <string>

#include "adapters/queue/queue_record.h"
#include "codecs/header_codec.h"
#include "gateway/queue/queue_metadata.h"

using namespace ptp;

TEST_CASE("queue metadata: refused names and values name the key") {
  for (auto [k, v] : {std::pair<std::string, std::string>{"k", "a\r\nSet-Cookie: x=1"},
                      {"k", "a\tb"},
                      {"k", std::string("a\0b", 3)},
                      {":path", "/"},
                      {"bad name", "v"},
                      {"K1", "v"},
                      {"", "v"},
                      {"x-ptp-session-id", "s"},
                      {"x-ptp-from-node-id", "s"},
                      {"x-ptp-code", "E0000000000"},
                      {"x-ptp-route-path", "A"},
                      {"connection", "close"},
                      {"x-ptp-message-metadata", "{}"}}) {
    Metadata md{{k, v}};
    Status s = check_message_metadata(md, 1024);
    CHECK_MESSAGE(s.code == Code::kBadRequest, k);
    CHECK(s.message.find("metadata key") != std::string::npos);
  }
  Metadata two{{"message-code", "a"}, {"x-ptp-message-code", "b"}};
  CHECK(check_message_metadata(two, 1024).code == Code::kBadRequest);
  Metadata long_value{{"k", std::string(1025, 'v')}};
  CHECK(check_message_metadata(long_value, 1024).code == Code::kBadRequest);
}

TEST_CASE("queue metadata: limits on entries and bytes") {
  Metadata many;
  for (size_t i = 0; i <= kMaxMetadataEntries; ++i) many["k" + std::to_string(i)] = "v";
  CHECK(check_message_metadata(many, 1024).code == Code::kBadRequest);
  Metadata big;
  for (int i = 0; i < 20; ++i) big["k" + std::to_string(i)] = std::string(1000, 'v');
  CHECK(check_message_metadata(big, 1024).code == Code::kBadRequest);
}

TEST_CASE("queue metadata: accepted, prefixed extension names canonicalised") {
  Metadata md{
      {"k1", "v1"}, {"x-ptp-custom", "c d"}, {"x-ptp-message-code", "mc"}, {"utf8", "caf\xc3\xa9"}};
  REQUIRE(check_message_metadata(md, 1024).ok());
  CHECK(md == Metadata{{"k1", "v1"},
                       {"x-ptp-custom", "c d"},
                       {"message-code", "mc"},
                       {"utf8", "caf\xc3\xa9"}});
}

TEST_CASE("queue metadata: custom entries travel in one header and come back") {
  Metadata md{{"k1", "v1"}, {"x-ptp-custom", "caf\xc3\xa9 \"q\""}, {"message-code", "mc"}};
  Metadata sent = md;
  pack_message_metadata(sent);
  CHECK(sent.count("k1") == 0);
  CHECK(sent.at("message-code") == "mc");
  const std::string& carried = sent.at(std::string(kMessageMetadataHeader));
  for (char c : carried) CHECK(static_cast<unsigned char>(c) < 0x80);
  // What the receiving gateway decodes from the headers the sender wrote.
  Envelope received;
  REQUIRE(decode_headers(encode_headers(Envelope{{}, sent, {}, {}, {}}), received).ok());
  REQUIRE(unpack_message_metadata(received.meta, 1024).ok());
  CHECK(received.meta == md);
  Metadata none{{"message-code", "mc"}};
  pack_message_metadata(none);
  CHECK(none == Metadata{{"message-code", "mc"}});
}

TEST_CASE("queue metadata: a bad carrier is refused") {
  for (const char* bad :
       {"not json", "[1]", "{\"k\":1}", "{\"K\":\"v\"}", "{\"k\":\"a\\r\\nb\"}"}) {
    Metadata md{{std::string(kMessageMetadataHeader), bad}};
    CHECK_MESSAGE(unpack_message_metadata(md, 1024).code == Code::kBadRequest, bad);
  }
  // Nested past the JSON depth bound: refused before the parser builds it.
  Metadata deep{{std::string(kMessageMetadataHeader),
                 "{\"k\":" + std::string(100, '[') + std::string(100, ']') + "}"}};
  const Status st = unpack_message_metadata(deep, 1 << 20);
  CHECK(st.code == Code::kBadRequest);
  CHECK(st.message.find("not a JSON object") != std::string::npos);
}

TEST_CASE("queue metadata: headers a pop answer may write") {
  CHECK(headers_writable(HeaderList{{"x-ptp-k", "v\tw"}, {"x-ptp-queue-result", "message"}}));
  CHECK_FALSE(headers_writable(HeaderList{{"x-ptp-k", "v\r\nset-cookie: x"}}));
  CHECK_FALSE(headers_writable(HeaderList{{"x-ptp-K", "v"}}));
  CHECK_FALSE(headers_writable(HeaderList{{"x-ptp-bad name", "v"}}));
}

TEST_CASE("queue metadata: a stored record keeps every entry") {
  QueuedMessage m;
  m.message_id = "A/1";
  m.env.header.session_id = "s";
  m.env.meta = {{"k1", "v1"}, {"x-ptp-custom", "caf\xc3\xa9"}, {"message-code", "mc"}};
  m.env.body = "payload";
  QueuedMessage back;
  REQUIRE(decode_queue_record(encode_queue_record(m), back).ok());
  CHECK(back.env.meta == m.env.meta);
  CHECK(back.env.body == "payload");
  // An outbox message keeps its carrier as it is.
  m.env.meta = {{std::string(kMessageMetadataHeader), "{\"k1\":\"v1\"}"}};
  REQUIRE(decode_queue_record(encode_queue_record(m), back).ok());
  CHECK(back.env.meta == m.env.meta);
}
