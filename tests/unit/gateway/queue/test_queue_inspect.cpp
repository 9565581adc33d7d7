// The admin routes of queue inspection (gateway/queue/queue_inspect.h) on two embedded
// stores: parameters and their defaults, both stores in one list with one limit, dead
// letters, the purge's confirmation, and the answers' JSON.
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway/queue/queue_inspect.h"
#include "tests/unit/queue_test_support.h"

using namespace ptp;
using namespace ptp::testing;
using Json = nlohmann::json;

namespace {

struct Answer {
  unsigned status = 0;
  Json body;
};

struct Fixture {
  EmbeddedBackend inbox_dir, outbox_dir;
  std::unique_ptr<QueueStore> inbox = inbox_dir.open(), outbox = outbox_dir.open();
  std::vector<std::string> lines;
  JsonLog log{[this](std::string_view l) { lines.emplace_back(l); }, LogLevel::kInfo};
  QueueInspect inspect{{{"inbox", inbox.get()}, {"outbox", outbox.get()}},
                       "B",
                       [] { return std::string("ptp.dead-letter"); },
                       log};

  Answer call(void (QueueInspect::*route)(AdminRequest, AdminRespond), AdminRequest req) {
    std::promise<Answer> p;
    (inspect.*route)(std::move(req), [&p](unsigned status, std::string body) {
      p.set_value({status, Json::parse(body)});
    });
    return p.get_future().get();
  }
  Answer list(const std::string& query) {
    return call(&QueueInspect::list, {"GET", "", "", query});
  }
  Answer peek(const std::string& query) {
    return call(&QueueInspect::peek, {"GET", "", "", query});
  }
  Answer purge(const Json& body) {
    return call(&QueueInspect::purge, {"POST", "", body.dump(), ""});
  }
};

}  // namespace

TEST_CASE("queue inspect: list both stores under one limit, filters, dead letters") {
  Fixture f;
  push_many(*f.inbox, {"B", "s1", "t"}, 2);
  push_many(*f.inbox, {"B", "s2", "ptp.dead-letter"}, 1, "d");
  push_many(*f.outbox, {"C", "s1", "t"}, 3);

  Answer a = f.list("");
  REQUIRE(a.status == 200);
  REQUIRE(a.body["queues"].size() == 3);
  CHECK(a.body["truncated"] == false);
  CHECK(a.body["queues"][0]["store"] == "inbox");
  CHECK(a.body["queues"][0]["messages"] == 2);
  CHECK(a.body["queues"][2]["store"] == "outbox");
  CHECK(a.body["queues"][2]["node"] == "C");
  CHECK(a.body["queues"][2]["messages"] == 3);
  CHECK(a.body["queues"][2]["bytes"].get<uint64_t>() > 0);

  a = f.list("limit=2");
  CHECK(a.body["queues"].size() == 2);
  CHECK(a.body["truncated"] == true);  // the outbox's queue did not fit
  a = f.list("limit=3");
  CHECK(a.body["truncated"] == false);
  CHECK(f.list("store=outbox").body["queues"].size() == 1);
  CHECK(f.list("session=s1&topic=t").body["queues"].size() == 2);
  CHECK(f.list("node=C").body["queues"].size() == 1);

  a = f.list("dead_letters=1");
  REQUIRE(a.body["queues"].size() == 1);
  CHECK(a.body["queues"][0]["session"] == "s2");
  CHECK(f.list("dead_letters=1&session=s1").body["queues"].empty());
  CHECK(f.list("dead_letters=1&store=outbox").status == 400);

  for (const char* bad : {"store=disk", "limit=0", "limit=x", "limit=10001"}) {
    a = f.list(bad);
    CHECK_MESSAGE(a.status == 400, bad);
    CHECK(a.body["code"] == "E0000000400");
  }
}

TEST_CASE("queue inspect: peek defaults, bounds and the message JSON") {
  Fixture f;
  QueuedMessage m = message("id-1", std::string(300, 'x'));
  m.env.header.target_node_id = "B";
  std::promise<Status> pushed;
  f.inbox->push({"B", "s1", "t"}, m, 0ms, [&](Status st) { pushed.set_value(st); });
  REQUIRE(pushed.get_future().get().ok());
  REQUIRE(push_sync(*f.inbox, {"B", "s1", "t"}, "id-2", "\xff\xfe binary").ok());

  Answer a = f.peek("session=s1&topic=t");  // node: this node, store: inbox
  REQUIRE(a.status == 200);
  REQUIRE(a.body["messages"].size() == 2);
  const Json& first = a.body["messages"][0];
  CHECK(first["message_id"] == "id-1");
  CHECK(first["size"] == 300);
  CHECK(first["source"] == "A");
  CHECK(first["target"] == "B");
  CHECK(first["leased"] == false);
  CHECK(first["metadata"]["message-topic"] == "t");
  CHECK(first["preview"].get<std::string>() == std::string(kInspectPreviewBytes, 'x'));
  CHECK(first["stored_ms"].get<int64_t>() > 0);
  // Bytes that are not UTF-8 come out as U+FFFD, the answer stays JSON.
  CHECK(a.body["messages"][1]["preview"].get<std::string>().find(" binary") != std::string::npos);
  CHECK(f.peek("session=s1&topic=t&count=1").body["messages"].size() == 1);

  CHECK(f.peek("session=s1").status == 400);
  CHECK(f.peek("session=s1&topic=t&count=101").status == 400);
  Answer out = f.peek("store=outbox&session=s1&topic=t");
  CHECK(out.status == 400);
  CHECK(out.body["message"].get<std::string>().find("node is required") != std::string::npos);
  REQUIRE(release_sync(*f.inbox, "B", "s9").ok());
  a = f.peek("session=s9&topic=t");
  CHECK(a.status == 410);
  CHECK(a.body["code"] == "E0000000608");
}

TEST_CASE("queue inspect: purge needs the session repeated; logged; the session lives on") {
  Fixture f;
  push_many(*f.inbox, {"B", "s1", "t"}, 2);
  push_many(*f.inbox, {"B", "s1", "u"}, 1);

  Answer a = f.purge({{"session", "s1"}});
  CHECK(a.status == 400);
  a = f.purge({{"session", "s1"}, {"confirm", "s2"}});
  CHECK(a.status == 400);
  CHECK(a.body["message"].get<std::string>().find("confirm must repeat the session id") !=
        std::string::npos);
  CHECK(f.purge({{"session", 7}, {"confirm", "s1"}}).status == 400);
  CHECK(f.call(&QueueInspect::purge, {"POST", "", "not json", ""}).status == 400);
  CHECK(f.purge({{"store", "outbox"}, {"session", "s1"}, {"confirm", "s1"}}).status == 400);
  CHECK(f.inbox->stats().messages == 3);

  a = f.purge({{"session", "s1"}, {"topic", "t"}, {"confirm", "s1"}});
  REQUIRE(a.status == 200);
  CHECK(a.body == Json{{"purged", 2}});
  CHECK(f.inbox->stats().messages == 1);
  bool logged = false;
  for (const auto& l : f.lines)
    logged = logged || (l.find("queue purged by the operator") != std::string::npos &&
                        l.find("\"purged\":\"2\"") != std::string::npos);
  CHECK(logged);
  a = f.purge({{"session", "s1"}, {"confirm", "s1"}});
  CHECK(a.body == Json{{"purged", 1}});
  CHECK(push_sync(*f.inbox, {"B", "s1", "t"}, "again", "x").ok());
}
