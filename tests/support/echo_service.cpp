// ptp-echo-service: the local service of tests and benchmarks. A keep-alive HTTP/1.1
// server where any POST answers 200 with the request body, and every request header
// named x-ptp-* (and traceparent) comes back as x-echo-<name> (so tests can check what
// reached the service). GET /healthz answers "ok".
//
//   ptp-echo-service --port N [--address 127.0.0.1] [--threads K]
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/version.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using error_code = boost::system::error_code;

class EchoConnection : public std::enable_shared_from_this<EchoConnection> {
 public:
  explicit EchoConnection(tcp::socket s) : socket_(std::move(s)) {}

  void read() {
    parser_.emplace();
    // Benchmarks send large bodies. Not boost::none: Boost 1.74 then rejects every body
    // that has a Content-Length.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(1 << 20);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) {
                       if (ec) return self->close();
                       self->respond();
                     });
  }

 private:
  void respond() {
    auto& req = parser_->get();
    res_ = {};
    res_.version(11);
    res_.keep_alive(req.keep_alive());
    if (req.method() == http::verb::post) {
      res_.result(http::status::ok);
      for (const auto& f : req) {
        std::string_view name = f.name_string();
        if ((name.size() >= 6 && boost::beast::iequals(name.substr(0, 6), "x-ptp-")) ||
            boost::beast::iequals(name, "traceparent"))
          res_.insert("x-echo-" + std::string(name), f.value());
      }
      res_.set("x-echo-content-type", req[http::field::content_type]);
      // A distinctive type, so tests see that the service's content-type travels back.
      res_.set(http::field::content_type, "application/x-ptp-echo");
      res_.body() = std::move(req.body());
    } else if (req.method() == http::verb::get && req.target() == "/healthz") {
      res_.result(http::status::ok);
      res_.set(http::field::content_type, "text/plain");
      res_.body() = "ok";
    } else {
      res_.result(http::status::not_found);
      res_.body() = "not found";
    }
    res_.prepare_payload();
    http::async_write(socket_, res_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

// One io_context per thread; the acceptor deals connections out round-robin.
class EchoServer {
 public:
  EchoServer(const tcp::endpoint& ep, unsigned threads)
      : contexts_(threads), acceptor_(contexts_[0]), signals_(contexts_[0], SIGINT, SIGTERM) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    signals_.async_wait([this](error_code, int) { stop(); });
  }

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  void run() {
    accept();
    std::vector<std::thread> threads;
    for (size_t i = 1; i < contexts_.size(); ++i) {
      guards_.emplace_back(contexts_[i].get_executor());
      threads.emplace_back([this, i] { contexts_[i].run(); });
    }
    contexts_[0].run();
    for (auto& t : threads) t.join();
  }

 private:
  void accept() {
    asio::io_context& target = contexts_[next_++ % contexts_.size()];
    acceptor_.async_accept(target, [this](error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        std::make_shared<EchoConnection>(std::move(s))->read();
      }
      accept();
    });
  }

  // Runs on context 0.
  void stop() {
    error_code ignored;
    acceptor_.close(ignored);
    guards_.clear();
    for (auto& c : contexts_) c.stop();
  }

  std::vector<asio::io_context> contexts_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  size_t next_ = 0;
};

int usage() {
  std::fprintf(stderr, "usage: ptp-echo-service --port N [--address 127.0.0.1] [--threads K]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-echo-service")) return 0;
  std::string address = "127.0.0.1";
  long port = -1;
  long threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--port")
      port = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--address")
      address = argv[++i];
    else if (a == "--threads")
      threads = std::strtol(argv[++i], nullptr, 10);
    else
      return usage();
  }
  if (port < 0 || port > 65535 || threads < 1 || threads > 256) return usage();
  try {
    tcp::endpoint ep(asio::ip::make_address(address), static_cast<uint16_t>(port));
    EchoServer server(ep, static_cast<unsigned>(threads));
    auto local = server.local_endpoint();
    std::cout << "listening " << local.address().to_string() << ":" << local.port() << std::endl;
    server.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ptp-echo-service: %s\n", e.what());
    return 1;
  }
  return 0;
}
