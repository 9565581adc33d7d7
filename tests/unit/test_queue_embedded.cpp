// What only the embedded (RocksDB) QueueStore has; the shared semantics are in
// test_queue_conformance.cpp.
#include "adapters/queue/queue_record.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {

TEST_CASE("queue record round trip keeps every field") {
  QueuedMessage m = message("id-1", std::string("\0bin\xff", 5));
  m.env.header.trace_id = "tr";
  m.env.meta["message-code"] = "c";
  m.env.content_type = "application/x-test";
  QueuedMessage back;
  REQUIRE(decode_queue_record(encode_queue_record(m), back).ok());
  CHECK(back.message_id == "id-1");
  CHECK(back.env.body == m.env.body);
  CHECK(back.env.header == m.env.header);
  CHECK(back.env.meta == m.env.meta);
  CHECK(back.env.content_type == "application/x-test");
  CHECK(decode_queue_record("\x05\0\0\0ab", back).code == Code::kCodecError);
}

TEST_CASE("embedded store: a second open of the same directory is refused clearly") {
  EmbeddedBackend backend;
  auto s = backend.open();
  EmbeddedQueueOptions o;
  o.path = backend.dir.string();
  Status err;
  CHECK_FALSE(EmbeddedQueueStore::open(o, err));
  CHECK(err.code == Code::kSystemError);
  CHECK(err.message.find("lock") != std::string::npos);
}

}  // namespace ptp::testing
