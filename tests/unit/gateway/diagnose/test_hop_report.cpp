#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "gateway/diagnose/hop_query.h"
#include "gateway/diagnose/hop_report.h"
#include "gateway/route/route_table.h"

using namespace ptp;

TEST_CASE("hop query: the fields of POST /diagnose/hop and their bounds") {
  HopQuery q;
  REQUIRE(parse_hop_query(
              R"({"node":"C","from":"R1","uri":"ptp/echo","max_body":8388608,"idle_s":2})", q)
              .ok());
  CHECK(q.node == "C");
  CHECK(q.from == "R1");
  CHECK(q.uri == "ptp/echo");
  CHECK(q.max_body == 8388608);
  CHECK(q.idle_s == 2);
  HopQuery d;
  REQUIRE(parse_hop_query(R"({"node":"B"})", d).ok());
  CHECK(d.from.empty());
  CHECK(d.max_body == 0);  // the origin's limit, filled in by the service
  CHECK(d.idle_s == 3);
  // The in-band body carries what the far node needs, not `from`.
  const auto body = nlohmann::json::parse(hop_query_body(q));
  CHECK(body ==
        nlohmann::json{{"node", "C"}, {"uri", "ptp/echo"}, {"max_body", 8388608}, {"idle_s", 2}});

  for (const char* bad : {"", "[]", R"({"from":"A"})", R"({"node":"a b"})", R"({"node":7})",
                          R"({"node":"B","from":"x/y"})", R"({"node":"B","max_body":-1})",
                          R"({"node":"B","max_body":"big"})", R"({"node":"B","idle_s":31})",
                          R"({"node":"B","idle_s":-1})", R"({"node":"B","uri":3})"}) {
    HopQuery x;
    const Status st = parse_hop_query(bad, x);
    INFO(bad);
    CHECK(st.code == Code::kBadRequest);
    CHECK(st.message.starts_with("diagnose: "));
  }
}

TEST_CASE("hop report: JSON with the measured fields only") {
  HopReport r;
  r.from = "R1";
  r.to = "R2";
  r.address = "127.0.0.1:17317";
  r.next = "R2";
  r.max_body = 8 << 20;
  r.connect_ms = 0.123;
  r.tls = HopTls{};
  r.auth = HopAuth{true, "", ""};
  r.largest_body = 1 << 20;
  r.body_refused = HopBodyRefused{1153433, "E0000000413", "too large"};
  r.fail(HopFailure::kBody, "body limit 1 MiB at R2 is lower than A's 8 MiB");
  const auto j = nlohmann::json::parse(hop_report_json(r));
  CHECK(j["ok"] == false);
  CHECK(j["failure"] == "body");
  CHECK(j["kind"] == "peer");
  CHECK(j["connect_ms"] == 0.12);
  CHECK(j["tls"] == nlohmann::json{{"used", false}});
  CHECK(j["auth"]["ok"] == true);
  CHECK(j["largest_body"] == 1048576);
  CHECK(j["body_refused"]["code"] == "E0000000413");
  CHECK_FALSE(j.contains("rtt_ms"));  // not measured: absent
  CHECK_FALSE(j.contains("idle"));

  HopReport ok;
  ok.idle = HopIdle{2, std::nullopt, "not measured: an HTTP/1.1 peer"};
  const auto k = nlohmann::json::parse(hop_report_json(ok));
  CHECK(k["ok"] == true);
  CHECK(k["failure"] == "");
  CHECK(k["idle"]["survived"].is_null());
}

TEST_CASE("route: ptp/diag/hop to this node is answered by the gateway itself") {
  Config cfg;
  cfg.node_id = "R1";
  PtpHeader h;
  h.target_node_id = "R1";
  h.uri = std::string(kDiagHopUri);
  CHECK(resolve_route(cfg, h).kind == RouteDecision::Kind::kDiag);
  h.uri = "ptp/diag/hops";
  CHECK(resolve_route(cfg, h).kind == RouteDecision::Kind::kError);
}
