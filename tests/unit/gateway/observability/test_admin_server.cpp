#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/observability/admin_server.h"
#include "gateway/observability/metrics.h"

using namespace ptp;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// The server's io_context on a thread of its own, as main runs it.
struct ServerThread {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  std::thread thread;
  void run() {
    thread = std::thread([this] { ioc.run(); });
  }
  ~ServerThread() {
    work.reset();
    ioc.stop();
    if (thread.joinable()) thread.join();
  }
};

// A blocking Beast client that keeps one connection open.
struct Client {
  net::io_context ioc;
  tcp::socket sock{ioc};
  beast::flat_buffer buf;

  explicit Client(uint16_t port) { sock.connect({net::ip::make_address("127.0.0.1"), port}); }

  http::response<http::string_body> request(http::verb verb, const std::string& target,
                                            bool keep_alive = true) {
    http::request<http::empty_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    http::write(sock, req);
    return read();
  }

  http::response<http::string_body> read() {
    http::response_parser<http::string_body> parser;
    http::read(sock, buf, parser);
    return parser.release();
  }

  // True when the server closed the connection (read returns EOF).
  bool closed_by_server() {
    boost::system::error_code ec;
    char c;
    net::read(sock, net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }
};

}  // namespace

TEST_CASE("admin server answers metrics, health, readiness and 404 on one connection") {
  Metrics metrics;
  metrics.request_done("B", "invoke", "http2", Code::kOk, 0.01, 10, 20);
  std::atomic<bool> ready{false};
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [&] { return ready.load(); });
  server.start();
  REQUIRE(server.port() != 0);
  st.run();

  Client c(server.port());
  auto res = c.request(http::verb::get, "/metrics");
  CHECK(res.result() == http::status::ok);
  CHECK(res[http::field::content_type] == "text/plain; version=0.0.4");
  CHECK(
      res.body().find(
          R"(ptp_requests_total{code="E0000000000",interface="invoke",route="B",wire="http2"} 1)") !=
      std::string::npos);

  // Same connection (keep-alive): later metric changes are visible.
  metrics.config_reload(true);
  res = c.request(http::verb::get, "/metrics?x=1");
  CHECK(res.body().find("ptp_config_generation 1") != std::string::npos);

  res = c.request(http::verb::get, "/healthz");
  CHECK(res.result() == http::status::ok);
  CHECK(res.body() == "ok");

  res = c.request(http::verb::get, "/readyz");
  CHECK(res.result() == http::status::service_unavailable);
  CHECK(res.body() == "not ready");
  ready = true;
  res = c.request(http::verb::get, "/readyz");
  CHECK(res.result() == http::status::ok);
  CHECK(res.body() == "ready");

  res = c.request(http::verb::get, "/nope");
  CHECK(res.result() == http::status::not_found);

  res = c.request(http::verb::post, "/healthz");
  CHECK(res.result() == http::status::method_not_allowed);

  res = c.request(http::verb::get, "/healthz", /*keep_alive=*/false);
  CHECK(res.result() == http::status::ok);
  CHECK(c.closed_by_server());
}

TEST_CASE("admin server answers HEAD with headers only") {
  Metrics metrics;
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [] { return true; });
  server.start();
  st.run();
  Client c(server.port());
  http::request<http::empty_body> req{http::verb::head, "/healthz", 11};
  http::write(c.sock, req);
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a HEAD response has no body whatever Content-Length says
  http::read(c.sock, c.buf, parser);
  CHECK(parser.get().result() == http::status::ok);
  CHECK(parser.get()[http::field::content_length] == "2");
  // The connection is still usable, so no stray body bytes were sent.
  auto res = c.request(http::verb::get, "/readyz");
  CHECK(res.body() == "ready");
}

TEST_CASE("admin server answers garbage with 400 and closes") {
  Metrics metrics;
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, nullptr);
  server.start();
  st.run();

  Client c(server.port());
  net::write(c.sock, net::buffer(std::string("\x16\x03\x01 this is not http\r\n\r\n")));
  auto res = c.read();
  CHECK(res.result() == http::status::bad_request);
  CHECK(c.closed_by_server());

  // The server keeps serving others; a null readiness callback means not ready.
  Client d(server.port());
  CHECK(d.request(http::verb::get, "/readyz").result() == http::status::service_unavailable);

  // Oversized headers are rejected too.
  Client e(server.port());
  std::string big = "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  boost::system::error_code ec;
  net::write(e.sock, net::buffer(big), ec);
  CHECK(e.read().result() == http::status::bad_request);
}

TEST_CASE("admin server: bind failure names the address; stop closes connections") {
  Metrics metrics;
  ServerThread st;
  AdminServer first(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [] { return true; });
  first.start();
  st.run();

  AdminServer second(st.ioc, Endpoint{"127.0.0.1", first.port()}, metrics, [] { return true; });
  std::string error;
  try {
    second.start();
  } catch (const std::runtime_error& ex) {
    error = ex.what();
  }
  CHECK(error.find("127.0.0.1:" + std::to_string(first.port())) != std::string::npos);

  Client c(first.port());
  CHECK(c.request(http::verb::get, "/healthz").result() == http::status::ok);
  const auto t0 = std::chrono::steady_clock::now();
  first.stop();
  CHECK(c.closed_by_server());
  // Closed by stop(), not by the 30 s idle timeout.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  // No longer accepting: a new connection is refused or closed without an answer.
  boost::system::error_code ec;
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), first.port()}, ec);
  if (!ec) {
    char ch;
    net::read(s, net::buffer(&ch, 1), ec);
    CHECK(ec);
  }
}

TEST_CASE("admin server serves routes added by components (JSON)") {
  Metrics metrics;
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [] { return true; });
  server.add_json_route("/rs/jobs/", [](std::string_view rest) -> std::pair<unsigned, std::string> {
    if (rest == "j1") return {200, R"({"job_id":"j1"})"};
    return {404, R"({"error":"unknown job )" + std::string(rest) + R"("})"};
  });
  server.start();
  st.run();
  Client c(server.port());
  auto res = c.request(http::verb::get, "/rs/jobs/j1");
  CHECK(res.result() == http::status::ok);
  CHECK(res[http::field::content_type] == "application/json");
  CHECK(res.body() == R"({"job_id":"j1"})");
  res = c.request(http::verb::get, "/rs/jobs/zz?x=1");
  CHECK(res.result() == http::status::not_found);
  CHECK(res.body() == R"({"error":"unknown job zz"})");
  res = c.request(http::verb::post, "/rs/jobs/j1");
  CHECK(res.result() == http::status::method_not_allowed);
  res = c.request(http::verb::get, "/healthz");
  CHECK(res.body() == "ok");
}

namespace {

http::response<http::string_body> post(Client& c, http::verb verb, const std::string& target,
                                       const std::string& body, const std::string& auth) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!auth.empty()) req.set(http::field::authorization, auth);
  req.body() = body;
  req.prepare_payload();
  http::write(c.sock, req);
  return c.read();
}

}  // namespace

TEST_CASE("admin routes: mutating ones need the bearer token; answers may come from any thread") {
  Metrics metrics;
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [] { return true; });
  std::atomic<int> calls{0};
  std::vector<std::thread> workers;
  std::mutex workers_mu;
  server.add_route("POST", "/things/", [&](AdminRequest req, AdminRespond respond) {
    ++calls;
    std::lock_guard lock(workers_mu);
    // Answered later, from another thread, twice: the second answer is ignored.
    workers.emplace_back([req = std::move(req), respond = std::move(respond)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      respond(201, "{\"rest\":\"" + req.path_rest + "\",\"body\":\"" + req.body + "\"}");
      respond(500, "{}");
    });
  });
  server.add_route("DELETE", "/things/", [&](AdminRequest req, AdminRespond respond) {
    respond(200, "{\"deleted\":\"" + req.path_rest + "\"}");
  });
  server.add_route("GET", "/things/",
                   [&](AdminRequest, AdminRespond respond) { respond(200, "[]"); });
  server.add_route("POST", "/drop", [&](AdminRequest, AdminRespond) {});  // never answers
  server.add_json_route("/things/special", [](std::string_view) {
    return std::pair<unsigned, std::string>{200, "{}"};
  });
  server.set_operator_token([] { return std::string("operator-token-0123456789abcdef"); });
  server.start();
  st.run();
  Client c(server.port());
  const std::string good = "Bearer operator-token-0123456789abcdef";

  auto r = post(c, http::verb::post, "/things/a1?x=1", "hello", "");
  CHECK(r.result_int() == 401);
  r = post(c, http::verb::post, "/things/a1", "hello", "Bearer wrong-token-0123456789abcdef");
  CHECK(r.result_int() == 403);
  CHECK(calls.load() == 0);  // refused before the route runs
  r = post(c, http::verb::post, "/things/a1?x=1", "hello", good);
  CHECK(r.result_int() == 201);
  CHECK(r.body() == "{\"rest\":\"a1\",\"body\":\"hello\"}");
  CHECK(r[http::field::content_type] == "application/json");
  r = post(c, http::verb::delete_, "/things/a1", "", "");
  CHECK(r.result_int() == 401);
  r = post(c, http::verb::delete_, "/things/a1", "", good);
  CHECK(r.body() == "{\"deleted\":\"a1\"}");
  r = c.request(http::verb::get, "/things/");
  CHECK(r.result_int() == 200);  // GET routes are open
  CHECK(r.body() == "[]");
  // The longest prefix wins; it has only GET.
  r = post(c, http::verb::post, "/things/special", "", good);
  CHECK(r.result_int() == 405);
  CHECK(r[http::field::allow] == "GET, HEAD");
  r = post(c, http::verb::post, "/drop", "", good);
  CHECK(r.result_int() == 500);
  // Still the same keep-alive connection.
  r = c.request(http::verb::get, "/healthz");
  CHECK(r.result_int() == 200);
  {
    std::lock_guard lock(workers_mu);
    for (auto& w : workers) w.join();
  }
  server.stop();
}

TEST_CASE("admin routes: a credentialed GET needs the bearer token; routes get the query") {
  Metrics metrics;
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [] { return true; });
  std::atomic<int> calls{0};
  server.add_route(
      "GET", "/secret",
      [&](AdminRequest req, AdminRespond respond) {
        ++calls;
        respond(200, "{\"rest\":\"" + req.path_rest + "\",\"query\":\"" + req.query + "\"}");
      },
      /*credential=*/true);
  server.add_route("GET", "/open", [&](AdminRequest req, AdminRespond respond) {
    respond(200, "{\"query\":\"" + req.query + "\"}");
  });
  server.set_operator_token([] { return std::string("operator-token-0123456789abcdef"); });
  server.start();
  st.run();
  Client c(server.port());
  const std::string good = "Bearer operator-token-0123456789abcdef";
  auto r = post(c, http::verb::get, "/secret/x?a=1&b=%20", "", "");
  CHECK(r.result_int() == 401);
  r = post(c, http::verb::get, "/secret/x?a=1", "", "Bearer wrong-token-0123456789abcdef");
  CHECK(r.result_int() == 403);
  CHECK(calls.load() == 0);
  r = post(c, http::verb::get, "/secret/x?a=1&b=%20", "", good);
  CHECK(r.result_int() == 200);
  CHECK(r.body() == "{\"rest\":\"/x\",\"query\":\"a=1&b=%20\"}");
  r = c.request(http::verb::get, "/open");
  CHECK(r.body() == "{\"query\":\"\"}");
  r = c.request(http::verb::get, "/open?q");
  CHECK(r.body() == "{\"query\":\"q\"}");
  server.stop();
}

TEST_CASE("admin routes: a body over 1 MiB is answered 413") {
  Metrics metrics;
  ServerThread st;
  AdminServer server(st.ioc, Endpoint{"127.0.0.1", 0}, metrics, [] { return true; });
  server.add_route("POST", "/x", [](AdminRequest req, AdminRespond respond) {
    respond(200, std::to_string(req.body.size()));
  });
  server.set_operator_token([] { return std::string("operator-token-0123456789abcdef"); });
  server.start();
  st.run();
  const std::string good = "Bearer operator-token-0123456789abcdef";
  {
    Client c(server.port());
    auto r = post(c, http::verb::post, "/x", std::string(1024 * 1024, 'a'), good);
    CHECK(r.result_int() == 200);
    CHECK(r.body() == "1048576");
  }
  Client c(server.port());
  http::request<http::empty_body> req{http::verb::post, "/x", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, good);
  req.set(http::field::content_length, "1048577");
  http::request_serializer<http::empty_body> sr(req);
  http::write_header(c.sock, sr);
  auto r = c.read();
  CHECK(r.result_int() == 413);
  CHECK(c.closed_by_server());
  server.stop();
}
