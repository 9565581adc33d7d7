// HTTP/1.1 server session and client pool over real loopback sockets, driven by one
// io_context on the test thread; plus the shared HTTP mapping helpers.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <functional>
#include <optional>

#include "gateway/http/http_mapping.h"
#include "gateway/server/http1_server_session.h"
#include "gateway/upstream/http1_client.h"

using namespace ptp;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

Http1Target tgt(std::string host, uint16_t port) {
  Http1Target t;
  t.host = std::move(host);
  t.port = port;
  return t;
}

struct FnDispatcher : Dispatcher {
  std::function<void(Request, Responder)> fn;
  std::function<Status(const Request&)> head_check;  // admit_head; unset: Ok
  int calls = 0;
  void dispatch(Request&& req, Responder done) override {
    ++calls;
    fn(std::move(req), std::move(done));
  }
  Status admit_head(Request& head) override { return head_check ? head_check(head) : Status::Ok(); }
  void reject(Request&&, Status st, Responder done) override {
    done(error_response(std::move(st)));
  }
};

// A loopback listener handing every connection to an Http1ServerSession.
struct TestServer {
  TestServer(asio::io_context& ioc, Http1Limits l)
      : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), limits(std::move(l)) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted;
      std::make_shared<Http1ServerSession<tcp::socket>>(std::move(s), boost::beast::flat_buffer{},
                                                        dispatcher, limits, "test-client")
          ->start();
      accept();
    });
  }
  Http1Target target() const { return tgt("127.0.0.1", acceptor.local_endpoint().port()); }

  tcp::acceptor acceptor;
  FnDispatcher dispatcher;
  Http1Limits limits;
  int accepted = 0;
};

template <class Pred>
bool run_until(asio::io_context& ioc, Pred done, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(20ms);
  }
  return done();
}

void run_for(asio::io_context& ioc, std::chrono::milliseconds d) {
  run_until(
      ioc, [] { return false; }, d);
}

Http1Result post(asio::io_context& ioc, Http1ClientPool& pool, const Http1Target& t,
                 std::string path, HeaderList headers, std::string body,
                 std::chrono::milliseconds timeout = 5s) {
  std::optional<Http1Result> out;
  int calls = 0;
  pool.post(t, std::move(path), std::move(headers), std::move(body), timeout, [&](Http1Result r) {
    ++calls;
    out = std::move(r);
  });
  CHECK(calls == 0);  // never inside post()
  REQUIRE(run_until(ioc, [&] { return out.has_value(); }));
  run_for(ioc, 5ms);
  CHECK(calls == 1);
  return *out;
}

std::string header(const HeaderList& h, std::string_view name) {
  for (const auto& [n, v] : h)
    if (n == name) return std::string(v);
  return "<absent>";
}

// Sends raw bytes on a fresh connection and parses the one response.
http::response<http::string_body> raw_exchange(asio::io_context& ioc, uint16_t port,
                                               std::string raw) {
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  bool done = false;
  asio::async_write(s, asio::buffer(raw), [](boost::system::error_code, size_t) {});
  http::async_read(s, buf, res, [&](boost::system::error_code ec, size_t) {
    CHECK_FALSE(ec);
    done = true;
  });
  REQUIRE(run_until(ioc, [&] { return done; }));
  return res;
}

Response echo_response(const Request& req) {
  Response r;
  r.env.header.trace_id = req.env.header.trace_id;
  r.env.header.session_id = req.env.header.session_id;
  r.env.header.token = "must-not-echo";
  r.env.body = "pong:" + req.env.body;
  r.extra_headers.emplace_back("x-extra", "1");
  return r;
}

}  // namespace

TEST_CASE("interface_for_path maps the chan paths and nothing else") {
  CHECK(interface_for_path("/v1/interconn/chan/invoke") == Interface::kInvoke);
  CHECK(interface_for_path("/v1/interconn/chan/transport") == Interface::kTransport);
  CHECK(interface_for_path("/v1/interconn/chan/push") == Interface::kPush);
  CHECK(interface_for_path("/v1/interconn/chan/pop?timeout=5") == Interface::kPop);
  CHECK(interface_for_path("/v1/interconn/chan/peek") == Interface::kPeek);
  CHECK(interface_for_path("/v1/interconn/chan/release") == Interface::kRelease);
  CHECK_FALSE(interface_for_path("/v1/interconn/chan/invoke/x"));
  CHECK_FALSE(interface_for_path("/v1/interconn/chan/"));
  CHECK_FALSE(interface_for_path("/v1/interconn/chan/Invoke"));
  CHECK_FALSE(interface_for_path("/healthz"));
  CHECK_FALSE(interface_for_path(""));
  CHECK(interface_path(Interface::kPeek) == "/v1/interconn/chan/peek");
}

TEST_CASE("error_body_json escapes like JSON") {
  Status s = Status::Error(Code::kForbidden, "bad \"token\" \\ line\nnext\t\x01 é", "B");
  CHECK(error_body_json(s) ==
        "{\"code\":\"E0000000403\",\"message\":\"bad \\\"token\\\" \\\\ line\\nnext\\t\\u0001 "
        "é\",\"hop\":\"B\"}");
  CHECK(error_body_json(Status::Error(Code::kNotFound, "")) ==
        "{\"code\":\"E0000000404\",\"message\":\"resource not found\",\"hop\":\"\"}");
}

TEST_CASE("response_headers and response_http_status") {
  Response ok;
  ok.env.header.trace_id = "t1";
  ok.env.header.session_id = "s1";
  ok.env.header.token = "secret";
  ok.env.meta["message-topic"] = "topic";
  ok.extra_headers.emplace_back("x-diag", "d");
  HeaderList h = response_headers(ok);
  CHECK(h == HeaderList{{"x-ptp-code", "E0000000000"},
                        {"x-ptp-trace-id", "t1"},
                        {"x-ptp-session-id", "s1"},
                        {"x-diag", "d"}});
  CHECK(response_http_status(ok) == 200);

  Response err = error_response(
      Status::Error(Code::kUnreachable, "line1\r\nx-evil: 1" + std::string(1000, 'a'), "C"));
  h = response_headers(err);
  CHECK(header(h, "x-ptp-code") == "E0000000607");
  std::string msg = header(h, "x-ptp-message");
  CHECK(msg.size() <= 512);
  CHECK(msg.starts_with("line1  x-evil: 1aaa"));
  CHECK(msg.find_first_of("\r\n") == std::string::npos);
  CHECK(header(h, "x-ptp-hop") == "C");
  CHECK(response_http_status(err) == 502);
}

TEST_CASE("status_from_http reads x-ptp-code first, then the HTTP status") {
  Status s = status_from_http(
      403, {{"X-PTP-Code", "E0000000618"}, {"x-ptp-message", "who"}, {"x-ptp-hop", "B"}});
  CHECK(s.code == Code::kNotPeered);
  CHECK(s.message == "who");
  CHECK(s.hop == "B");
  CHECK(status_from_http(200, {}).ok());
  CHECK(status_from_http(200, {{"x-ptp-code", "E0000000000"}}).ok());
  CHECK(status_from_http(504, {}).code == Code::kTimeout);
  CHECK(status_from_http(413, {}).code == Code::kTooLarge);
  CHECK(status_from_http(500, {}).code == Code::kSystemError);
}

TEST_CASE("http1 session: request decoding, sync and async responses, keep-alive reuse") {
  asio::io_context ioc;
  TestServer server(ioc, Http1Limits{});
  Http1ClientPool pool(ioc.get_executor());
  std::optional<Request> seen;
  bool async_reply = false;
  server.dispatcher.fn = [&](Request req, Responder done) {
    seen = req;
    Response r = echo_response(req);
    if (!async_reply) return done(std::move(r));  // inside dispatch()
    asio::post(ioc, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  HeaderList headers{{"X-PTP-Trace-Id", "trace-1"},
                     {"x-ptp-session-id", "sess-1"},
                     {"x-ptp-target-node-id", "B"},
                     {"x-ptp-from-node-id", "A"},
                     {"x-ptp-topic", "t"}};

  Http1Result r = post(ioc, pool, server.target(), "/v1/interconn/chan/invoke", headers, "ping");
  REQUIRE(r.status.ok());
  CHECK(r.http_status == 200);
  CHECK(r.body == "pong:ping");
  CHECK(header(r.headers, "x-ptp-code") == "E0000000000");
  CHECK(header(r.headers, "x-ptp-trace-id") == "trace-1");
  CHECK(header(r.headers, "x-ptp-session-id") == "sess-1");
  CHECK(header(r.headers, "x-ptp-token") == "<absent>");
  CHECK(header(r.headers, "x-extra") == "1");
  CHECK(header(r.headers, "content-type") == "application/octet-stream");
  REQUIRE(seen);
  CHECK(seen->iface == Interface::kInvoke);
  CHECK(seen->wire == WireProtocol::kHttp1);
  CHECK(seen->remote == "test-client");
  CHECK(seen->stream == nullptr);
  CHECK(seen->env.header.trace_id == "trace-1");
  CHECK(seen->env.header.source_node_id == "A");
  CHECK(seen->env.header.target_node_id == "B");
  CHECK(seen->env.meta["message-topic"] == "t");
  CHECK(seen->env.body == "ping");

  async_reply = true;
  r = post(ioc, pool, server.target(), "/v1/interconn/chan/pop?timeout=7", headers,
           std::string(100000, 'z'));
  REQUIRE(r.status.ok());
  CHECK(r.body == "pong:" + std::string(100000, 'z'));
  CHECK(seen->iface == Interface::kPop);
  CHECK(seen->env.meta["timeout"] == "7");

  r = post(ioc, pool, server.target(), "/v1/interconn/chan/push", {}, "");
  CHECK(r.body == "pong:");
  CHECK(server.accepted == 1);
  CHECK(pool.connections_opened() == 1);
  CHECK(pool.idle_connections() == 1);
}

TEST_CASE("http1 session: errors") {
  asio::io_context ioc;
  Http1Limits limits;
  limits.max_body_bytes = 1024;
  limits.node_id = "GW";
  TestServer server(ioc, limits);
  Http1ClientPool pool(ioc.get_executor());
  server.dispatcher.fn = [&](Request, Responder done) {
    done(error_response(Status::Error(Code::kForbidden, "bad token", "B")));
  };

  SUBCASE("dispatcher error becomes status, headers and JSON body") {
    Http1Result r = post(ioc, pool, server.target(), "/v1/interconn/chan/invoke", {}, "x");
    REQUIRE(r.status.ok());
    CHECK(r.http_status == 403);
    CHECK(header(r.headers, "x-ptp-code") == "E0000000403");
    CHECK(header(r.headers, "x-ptp-message") == "bad token");
    CHECK(header(r.headers, "content-type") == "application/json");
    CHECK(r.body == R"({"code":"E0000000403","message":"bad token","hop":"B"})");
    Status st = status_from_http(r.http_status, r.headers);
    CHECK(st.code == Code::kForbidden);
    CHECK(st.hop == "B");
  }
  SUBCASE("body over the limit is 413 and the next request still works") {
    for (size_t size : {size_t{2000}, size_t{4} << 20}) {
      Http1Result r =
          post(ioc, pool, server.target(), "/v1/interconn/chan/push", {}, std::string(size, 'b'));
      REQUIRE(r.status.ok());
      CHECK(r.http_status == 413);
      CHECK(header(r.headers, "x-ptp-code") == "E0000000413");
      CHECK(r.body.find("\"code\":\"E0000000413\"") != std::string::npos);
      CHECK(r.body.find("\"hop\":\"GW\"") != std::string::npos);
    }
    CHECK(server.dispatcher.calls == 0);
    Http1Result r = post(ioc, pool, server.target(), "/v1/interconn/chan/push", {}, "small");
    CHECK(r.http_status == 403);
    CHECK(server.dispatcher.calls == 1);
  }
  SUBCASE("unknown path is 404, keeping the connection") {
    Http1Result r = post(ioc, pool, server.target(), "/v1/other", {}, "x");
    CHECK(r.http_status == 404);
    CHECK(header(r.headers, "x-ptp-code") == "E0000000404");
    r = post(ioc, pool, server.target(), "/v1/other", {}, "x");
    CHECK(r.http_status == 404);
    CHECK(server.accepted == 1);
    CHECK(server.dispatcher.calls == 0);
  }
  SUBCASE("conflicting header spellings are rejected before dispatch") {
    Http1Result r = post(ioc, pool, server.target(), "/v1/interconn/chan/invoke",
                         {{"x-ptp-source-node-id", "A"}, {"x-ptp-from-node-id", "Z"}}, "x");
    CHECK(r.http_status == 400);
    CHECK(header(r.headers, "x-ptp-code") == "E0000000400");
    CHECK(server.dispatcher.calls == 0);
  }
  SUBCASE("a head the dispatcher refuses is answered before its body, and the connection closes") {
    std::string token_seen;
    server.dispatcher.head_check = [&](const Request& head) {
      token_seen = head.env.header.token;
      return Status::Error(Code::kForbidden, "not on this head");
    };
    // A body is announced and never sent: the answer cannot have waited for it.
    auto res = raw_exchange(ioc, server.target().port,
                            "POST /v1/interconn/chan/invoke HTTP/1.1\r\nHost: x\r\n"
                            "x-ptp-token: t0k\r\nContent-Length: 1000\r\n\r\n");
    CHECK(res.result_int() == 403);
    CHECK(res["x-ptp-code"] == "E0000000403");
    CHECK(res["x-ptp-hop"] == "GW");
    CHECK_FALSE(res.keep_alive());
    CHECK(token_seen == "t0k");
    CHECK(server.dispatcher.calls == 0);
  }
  SUBCASE("GET on an interface path is 405") {
    auto res = raw_exchange(ioc, server.target().port,
                            "GET /v1/interconn/chan/invoke HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(res.result_int() == 405);
    CHECK(res["x-ptp-code"] == "E0000000400");
    CHECK(res[http::field::allow] == "POST");
  }
  SUBCASE("malformed HTTP is 400") {
    auto res = raw_exchange(
        ioc, server.target().port,
        "POST /v1/interconn/chan/invoke HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
    CHECK(res.result_int() == 400);
    CHECK(res["x-ptp-code"] == "E0000000400");
    CHECK(res.body().find("malformed") != std::string::npos);
    CHECK_FALSE(res.keep_alive());
  }
}

TEST_CASE("http1 session: streamed response body is sent chunked") {
  asio::io_context ioc;
  TestServer server(ioc, Http1Limits{});
  Http1ClientPool pool(ioc.get_executor());
  std::string expected;
  for (int i = 0; i < 20; ++i) expected += std::string(30000, static_cast<char>('a' + i));
  server.dispatcher.fn = [&](Request req, Responder done) {
    auto pipe = std::make_shared<BodyPipe>();
    Response r;
    r.env.header.trace_id = req.env.header.trace_id;
    r.stream = pipe;
    done(std::move(r));
    // The producer writes one chunk per loop turn, then finishes.
    auto step = std::make_shared<std::function<void(int)>>();
    *step = [&, pipe, step](int i) {
      if (i == 20) {
        pipe->finish();
        *step = nullptr;  // break the self-reference
        return;
      }
      pipe->write(expected.substr(static_cast<size_t>(i) * 30000, 30000));
      asio::post(ioc, [step, i] { (*step)(i + 1); });
    };
    asio::post(ioc, [step] { (*step)(0); });
  };
  for (int round = 0; round < 2; ++round) {
    Http1Result r = post(ioc, pool, server.target(), "/v1/interconn/chan/transport",
                         {{"x-ptp-trace-id", "tr"}}, "go");
    REQUIRE(r.status.ok());
    CHECK(r.http_status == 200);
    CHECK(header(r.headers, "transfer-encoding") == "chunked");
    CHECK(header(r.headers, "x-ptp-trace-id") == "tr");
    CHECK(r.body == expected);
  }
  CHECK(server.accepted == 1);  // kept alive after a chunked response
}

TEST_CASE("http1 client: unreachable, timeout and a late responder") {
  asio::io_context ioc;
  Http1ClientPool pool(ioc.get_executor());

  SUBCASE("connection refused names host:port") {
    uint16_t port;
    {
      tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      port = a.local_endpoint().port();
    }
    Http1Result r = post(ioc, pool, tgt("127.0.0.1", port), "/", {}, "x");
    CHECK(r.status.code == Code::kUnreachable);
    CHECK(r.status.message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  }
  SUBCASE("resolve failure") {
    Http1Result r = post(ioc, pool, tgt("no-such-host.invalid", 80), "/", {}, "x");
    CHECK(r.status.code == Code::kUnreachable);
    CHECK(r.status.message.find("no-such-host.invalid:80") != std::string::npos);
  }
  SUBCASE("timeout, then the responder fires after the client left") {
    TestServer server(ioc, Http1Limits{});
    Responder pending;
    server.dispatcher.fn = [&](Request, Responder done) { pending = std::move(done); };
    Http1Result r = post(ioc, pool, server.target(), "/v1/interconn/chan/pop", {}, "x", 100ms);
    CHECK(r.status.code == Code::kTimeout);
    REQUIRE(pending);
    run_for(ioc, 50ms);
    pending(echo_response(Request{}));
    pending = nullptr;
    run_for(ioc, 100ms);  // the session writes into a closed connection and goes away
    // A fresh request still works.
    server.dispatcher.fn = [&](Request req, Responder done) { done(echo_response(req)); };
    r = post(ioc, pool, server.target(), "/v1/interconn/chan/pop", {}, "y");
    CHECK(r.status.ok());
    CHECK(r.body == "pong:y");
  }
}

TEST_CASE("http1 client: idle connections the server closed are not reused") {
  asio::io_context ioc;
  Http1Limits limits;
  limits.idle_timeout = 100ms;
  TestServer server(ioc, limits);
  server.dispatcher.fn = [&](Request req, Responder done) { done(echo_response(req)); };
  Http1ClientPool pool(ioc.get_executor());
  CHECK(post(ioc, pool, server.target(), "/v1/interconn/chan/invoke", {}, "1").body == "pong:1");
  run_for(ioc, 300ms);
  CHECK(post(ioc, pool, server.target(), "/v1/interconn/chan/invoke", {}, "2").body == "pong:2");
  CHECK(server.accepted == 2);
  CHECK(pool.connections_opened() == 2);
}

TEST_CASE("http1 client: a reused connection dropped mid-request is retried once") {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  // Connection 1 answers one request, then closes on reading the second (the race a
  // server's idle timeout creates); connection 2 answers normally.
  struct Conn {
    tcp::socket s;
    boost::beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
  };
  int accepted = 0;
  std::function<void(std::shared_ptr<Conn>, int)> serve = [&](std::shared_ptr<Conn> c, int served) {
    c->req = {};
    http::async_read(c->s, c->buf, c->req, [&, c, served](boost::system::error_code ec, size_t) {
      if (ec) return;
      if (accepted == 1 && served == 1) return c->s.close();
      c->res = {};
      c->res.result(200);
      c->res.body() = "conn" + std::to_string(accepted) + ":" + c->req.body();
      c->res.keep_alive(true);
      c->res.prepare_payload();
      http::async_write(c->s, c->res, [&, c, served](boost::system::error_code ec, size_t) {
        if (!ec) serve(c, served + 1);
      });
    });
  };
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted;
      serve(std::make_shared<Conn>(Conn{std::move(s), {}, {}, {}}), 0);
      accept();
    });
  };
  accept();
  Http1ClientPool pool(ioc.get_executor());
  Http1Target t = tgt("127.0.0.1", acceptor.local_endpoint().port());
  CHECK(post(ioc, pool, t, "/", {}, "a").body == "conn1:a");
  Http1Result r = post(ioc, pool, t, "/", {}, "b");
  CHECK(r.status.ok());
  CHECK(r.body == "conn2:b");
  CHECK(pool.connections_opened() == 2);
}

TEST_CASE("http1 client: a steady load reuses its connections") {
  asio::io_context ioc;
  TestServer server(ioc, Http1Limits{});
  std::vector<Responder> held;
  server.dispatcher.fn = [&](Request, Responder done) { held.push_back(std::move(done)); };
  Http1ClientPool pool(ioc.get_executor());
  constexpr int kInFlight = 50;  // more than the old idle cap of 32
  int answered = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kInFlight; ++i)
      pool.post(server.target(), "/v1/interconn/chan/invoke", HeaderList{}, "x", 5s,
                [&](Http1Result r) {
                  CHECK(r.status.ok());
                  ++answered;
                });
    REQUIRE(run_until(ioc, [&] { return held.size() == kInFlight; }));
    for (auto& done : held) done(echo_response(Request{}));
    held.clear();
    REQUIRE(run_until(ioc, [&] { return answered == (round + 1) * kInFlight; }));
  }
  CHECK(pool.connections_opened() == kInFlight);
  CHECK(server.accepted == kInFlight);
  CHECK(pool.idle_connections() == kInFlight);
}

TEST_CASE("http1 client: requests over the per-host limit wait for a connection") {
  asio::io_context ioc;
  TestServer server(ioc, Http1Limits{});
  std::vector<Responder> held;
  server.dispatcher.fn = [&](Request, Responder done) { held.push_back(std::move(done)); };
  Http1ClientPool pool(ioc.get_executor());
  Http1Target t = server.target();
  t.max_connections = 2;
  std::vector<std::string> bodies;
  std::optional<Http1Result> queued_out;
  for (int i = 0; i < 4; ++i)
    pool.post(t, "/v1/interconn/chan/invoke", HeaderList{}, std::to_string(i), 5s,
              [&](Http1Result r) { bodies.push_back(r.status.ok() ? r.body : r.status.message); });
  // One more that gives up while queued: its slot must not be lost.
  pool.post(t, "/v1/interconn/chan/invoke", HeaderList{}, "late", 100ms,
            [&](Http1Result r) { queued_out = std::move(r); });
  REQUIRE(run_until(ioc, [&] { return held.size() == 2 && queued_out.has_value(); }));
  CHECK(queued_out->status.code == Code::kTimeout);
  CHECK(server.accepted == 2);
  Request req;
  while (bodies.size() < 4) {
    REQUIRE(run_until(ioc, [&] { return !held.empty(); }));
    auto done = std::move(held.front());
    held.erase(held.begin());
    done(echo_response(req));
    run_for(ioc, 10ms);
  }
  CHECK(bodies.size() == 4);
  CHECK(held.empty());
  CHECK(server.accepted == 2);
  CHECK(pool.connections_opened() == 2);
  CHECK(pool.idle_connections() == 2);
}

namespace {

// Answers each request with the next scripted reply, written in pieces a few ms apart
// (so the client sees them in separate reads); closes the connection after a reply
// marked `close`.
struct ScriptedServer {
  struct Reply {
    std::vector<std::string> pieces;
    bool close = false;
  };
  struct Conn {
    explicit Conn(tcp::socket s) : s(std::move(s)), timer(this->s.get_executor()) {}
    tcp::socket s;
    asio::steady_timer timer;
    boost::beast::flat_buffer buf;
    http::request<http::string_body> req;
  };

  explicit ScriptedServer(asio::io_context& ioc)
      : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted;
      serve(std::make_shared<Conn>(std::move(s)));
      accept();
    });
  }
  void serve(std::shared_ptr<Conn> c) {
    c->req = {};
    http::async_read(c->s, c->buf, c->req, [this, c](boost::system::error_code ec, size_t) {
      if (ec || replies.empty()) return;
      requests.push_back(c->req);
      Reply r = std::move(replies.front());
      replies.pop_front();
      write(c, std::make_shared<Reply>(std::move(r)), 0);
    });
  }
  void write(std::shared_ptr<Conn> c, std::shared_ptr<Reply> r, size_t i) {
    if (i == r->pieces.size()) {
      if (r->close) return c->s.close();
      return serve(c);
    }
    asio::async_write(
        c->s, asio::buffer(r->pieces[i]), [this, c, r, i](boost::system::error_code ec, size_t) {
          if (ec) return;
          c->timer.expires_after(3ms);
          c->timer.async_wait([this, c, r, i](boost::system::error_code) { write(c, r, i + 1); });
        });
  }
  Http1Target target() const { return tgt("127.0.0.1", acceptor.local_endpoint().port()); }

  tcp::acceptor acceptor;
  std::deque<Reply> replies;
  std::vector<http::request<http::string_body>> requests;
  int accepted = 0;
};

std::vector<std::string> pieces(std::string_view s, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); i += n) out.emplace_back(s.substr(i, n));
  return out;
}

}  // namespace

TEST_CASE("http1 client: responses in pieces, chunked, after 1xx, and ending the connection") {
  asio::io_context ioc;
  ScriptedServer server(ioc);
  Http1ClientPool pool(ioc.get_executor());
  const Http1Target t = server.target();

  // Split over many reads, header and body; the connection stays.
  server.replies.push_back(
      {pieces("HTTP/1.1 200 OK\r\nX-Split: yes\r\nContent-Length: 10\r\n\r\n0123456789", 7)});
  Http1Result r = post(ioc, pool, t, "/a", {{"x-ptp-trace-id", "t1"}}, "req-body");
  REQUIRE(r.status.ok());
  CHECK(r.http_status == 200);
  CHECK(r.body == "0123456789");
  CHECK(header(r.headers, "x-split") == "yes");
  REQUIRE(server.requests.size() == 1);
  CHECK(server.requests[0].target() == "/a");
  CHECK(server.requests[0]["x-ptp-trace-id"] == "t1");
  CHECK(server.requests[0][http::field::host] == "127.0.0.1:" + std::to_string(t.port));
  CHECK(server.requests[0][http::field::content_type] == "application/octet-stream");
  CHECK(server.requests[0].body() == "req-body");

  // Chunked, in pieces; then a 100 Continue before the answer.
  server.replies.push_back({pieces(
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      5)});
  server.replies.push_back(
      {{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"}});
  r = post(ioc, pool, t, "/b", {}, "x");
  CHECK(r.http_status == 201);
  CHECK(r.body == "abcde");
  r = post(ioc, pool, t, "/c", {}, "x");
  CHECK(r.http_status == 202);
  CHECK(r.body == "ok");
  CHECK(server.accepted == 1);
  CHECK(pool.connections_opened() == 1);
  CHECK(pool.idle_connections() == 1);

  // Connection: close is honoured: the next request opens a new connection.
  server.replies.push_back(
      {{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n1"}, true});
  CHECK(post(ioc, pool, t, "/d", {}, "x").body == "1");
  CHECK(pool.idle_connections() == 0);
  // HTTP/1.0 without a length: the body ends with the connection.
  server.replies.push_back({{"HTTP/1.0 200 OK\r\n\r\nuntil ", "the end"}, true});
  r = post(ioc, pool, t, "/e", {}, "x");
  REQUIRE(r.status.ok());
  CHECK(r.body == "until the end");
  CHECK(pool.idle_connections() == 0);
  server.replies.push_back({{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2"}});
  CHECK(post(ioc, pool, t, "/f", {}, "x").body == "2");
  CHECK(server.accepted == 3);
  CHECK(pool.connections_opened() == 3);
}

TEST_CASE("http1 client: malformed, oversized and cut-off responses") {
  asio::io_context ioc;
  ScriptedServer server(ioc);
  Http1ClientOptions opts;
  opts.max_response_body_bytes = 100;
  opts.max_response_header_bytes = 1024;
  Http1ClientPool pool(ioc.get_executor(), opts);
  const Http1Target t = server.target();

  SUBCASE("malformed status line") {
    server.replies.push_back({{"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"}});
    Http1Result r = post(ioc, pool, t, "/", {}, "x");
    CHECK(r.status.code == Code::kCodecError);
    CHECK(r.status.message.find("malformed HTTP response from 127.0.0.1:") != std::string::npos);
  }
  SUBCASE("malformed chunk") {
    server.replies.push_back(
        {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "zz\r\nabc\r\n0\r\n\r\n"}});
    CHECK(post(ioc, pool, t, "/", {}, "x").status.code == Code::kCodecError);
  }
  SUBCASE("header over the limit") {
    server.replies.push_back(
        {pieces("HTTP/1.1 200 OK\r\nX-Big: " + std::string(3000, 'v') + "\r\n\r\n", 500)});
    CHECK(post(ioc, pool, t, "/", {}, "x").status.code == Code::kCodecError);
  }
  SUBCASE("body over the limit, declared and chunked") {
    server.replies.push_back({{"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n"}});
    Http1Result r = post(ioc, pool, t, "/", {}, "x");
    CHECK(r.status.code == Code::kTooLarge);
    CHECK(r.status.message.find("exceeds 100 bytes") != std::string::npos);
    server.replies.push_back({pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                         std::string("32\r\n") + std::string(50, 'a') + "\r\n" +
                                         "33\r\n" + std::string(51, 'b') + "\r\n0\r\n\r\n",
                                     40)});
    CHECK(post(ioc, pool, t, "/", {}, "x").status.code == Code::kTooLarge);
  }
  SUBCASE("cut off mid-body") {
    server.replies.push_back({{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123"}, true});
    Http1Result r = post(ioc, pool, t, "/", {}, "x");
    CHECK(r.status.code == Code::kUnreachable);
    CHECK(r.status.message.find("lost") != std::string::npos);
  }
  // Nothing is reused after a failure.
  CHECK(pool.idle_connections() == 0);
}

TEST_CASE("http1 client: a header that would break the request is refused before sending") {
  asio::io_context ioc;
  ScriptedServer server(ioc);
  Http1ClientPool pool(ioc.get_executor());
  for (const auto& [name, value] :
       HeaderList{{"x-a", "1\r\nx-injected: 1"}, {"x-a\nb", "1"}, {"x-a", std::string("\0", 1)}}) {
    Http1Result r = post(ioc, pool, server.target(), "/", {{name, value}}, "x");
    CHECK(r.status.code == Code::kCodecError);
    CHECK(r.status.message.find("127.0.0.1:") != std::string::npos);
  }
  CHECK(pool.connections_opened() == 0);
  CHECK(server.accepted == 0);
}

TEST_CASE("http1 client: a connection closed right after its response is retried, not failed") {
  // The server closes without saying Connection: close; the next request reuses the
  // connection at once (too recent to be probed) and must land on a fresh one.
  asio::io_context ioc;
  ScriptedServer server(ioc);
  Http1ClientPool pool(ioc.get_executor());
  const Http1Target t = server.target();
  for (int i = 0; i < 3; ++i)
    server.replies.push_back(
        {{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + std::to_string(i)}, true});
  for (int i = 0; i < 3; ++i) {
    Http1Result r = post(ioc, pool, t, "/", {}, "x");
    REQUIRE(r.status.ok());
    CHECK(r.body == std::to_string(i));
  }
  CHECK(server.accepted == 3);
  CHECK(server.requests.size() == 3);
}

TEST_CASE("http1 server: Transfer-Encoding is accepted only when it ends with chunked") {
  auto ok = [](std::initializer_list<std::string_view> values) {
    boost::beast::http::fields f;
    for (auto v : values) f.insert(boost::beast::http::field::transfer_encoding, v);
    return http1_detail::transfer_encoding_acceptable(f);
  };
  CHECK(ok({}));
  CHECK(ok({"chunked"}));
  CHECK(ok({"CHUNKED"}));
  CHECK(ok({"gzip, chunked"}));
  CHECK(ok({"gzip", " chunked\t"}));
  CHECK_FALSE(ok({"gzip"}));
  CHECK_FALSE(ok({"identity"}));
  CHECK_FALSE(ok({"chunked, identity"}));
  CHECK_FALSE(ok({"chunked", "gzip"}));
  CHECK_FALSE(ok({""}));
  CHECK_FALSE(ok({"chunkedx"}));
}
