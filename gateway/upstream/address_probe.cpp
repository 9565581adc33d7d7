#include "gateway/upstream/address_probe.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>

#include "gateway/upstream/h2_client_session.h"
#include "gateway/upstream/pinned_peer.h"

namespace ptp {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// What one check holds until it ends: its deadline and the connection it opened.
struct Probe : std::enable_shared_from_this<Probe> {
  Probe(asio::any_io_executor ex, ProbeTarget target, std::function<void(Status)> cb)
      : t(std::move(target)), timer(ex), resolver(ex), socket(ex), done(std::move(cb)) {}

  ProbeTarget t;
  asio::steady_timer timer;
  tcp::resolver resolver;
  tcp::socket socket;  // HTTP/1.1 peers
  std::optional<asio::ssl::stream<tcp::socket>> tls;
  std::shared_ptr<H2ClientSession> session;  // HTTP/2 and gRPC peers
  const char* step = "connect";
  std::function<void(Status)> done;
  bool finished = false;

  std::string where() const { return t.endpoint.to_string(); }

  void finish(Status st) {
    if (finished) return;
    finished = true;
    timer.cancel();
    resolver.cancel();
    boost::system::error_code ec;
    socket.close(ec);
    if (tls) tls->next_layer().close(ec);
    if (auto s = std::exchange(session, nullptr)) {
      s->set_on_closed(nullptr);
      s->terminate("health check done");
    }
    done(std::move(st));
  }

  void start() {
    timer.expires_after(t.timeout);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      self->finish(Status::Error(
          Code::kTimeout, std::string(self->step) + " to " + self->where() + " not done within " +
                              std::to_string(self->t.timeout.count()) + " ms"));
    });
    if (t.protocol == PeerProtocol::kHttp1)
      start_http1();
    else
      start_h2();
  }

  // Connect (TLS with ALPN h2 included) by the client session itself, then a PING.
  void start_h2() {
    H2ClientSession::Options opts;
    opts.endpoint = t.endpoint;
    opts.tls = t.tls;
    opts.server_name = t.server_name;
    opts.connect_timeout = t.timeout;
    opts.keepalive = std::chrono::milliseconds(0);  // no PINGs but ours
    H2ClientSession::connect(
        timer.get_executor(), opts,
        [self = shared_from_this()](std::shared_ptr<H2ClientSession> s, Status st) {
          if (!s) return self->finish(std::move(st));
          if (self->finished) return s->terminate("health check done");
          self->session = s;
          self->step = "HTTP/2 PING";
          s->set_on_closed([w = std::weak_ptr<Probe>(self)](const std::string& why) {
            if (auto p = w.lock())
              p->finish(Status::Error(Code::kUnreachable, p->where() +
                                                              " closed the connection before "
                                                              "answering the PING: " +
                                                              why));
          });
          s->ping([w = std::weak_ptr<Probe>(self)] {
            if (auto p = w.lock()) p->finish(Status::Ok());
          });
        });
  }

  void start_http1() {
    resolver.async_resolve(
        t.endpoint.host, std::to_string(t.endpoint.port),
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    tcp::resolver::results_type results) {
          if (self->finished) return;
          if (ec)
            return self->finish(Status::Error(
                Code::kBadAddress, "cannot resolve " + self->where() + ": " + ec.message()));
          asio::async_connect(self->socket, results,
                              [self](const boost::system::error_code& ec, const tcp::endpoint&) {
                                self->on_http1_connected(ec);
                              });
        });
  }

  void on_http1_connected(const boost::system::error_code& ec) {
    if (finished) return;
    if (ec)
      return finish(
          Status::Error(Code::kUnreachable, "connect to " + where() + " failed: " + ec.message()));
    if (!t.tls) return finish(Status::Ok());
    step = "TLS handshake";
    tls.emplace(std::move(socket), *t.tls);
    const std::string& name = t.server_name.empty() ? t.endpoint.host : t.server_name;
    boost::system::error_code not_ip;
    asio::ip::make_address(name, not_ip);
    if (not_ip)  // RFC 6066: SNI carries host names only
      SSL_set_tlsext_host_name(tls->native_handle(), name.c_str());
    SSL_set1_host(tls->native_handle(), name.c_str());
    tls->async_handshake(asio::ssl::stream_base::client, [self = shared_from_this()](
                                                             const boost::system::error_code& ec) {
      if (self->finished) return;
      if (!ec) return self->finish(Status::Ok());
      long vr = SSL_get_verify_result(self->tls->native_handle());
      self->finish(
          Status::Error(Code::kCertCheck,
                        "TLS handshake with " + self->where() + " failed: " + ec.message() +
                            (vr == X509_V_OK ? std::string() : " (" + tls_verify_text(vr) + ")")));
    });
  }
};

}  // namespace

void probe_address(asio::any_io_executor ex, const ProbeTarget& t,
                   std::function<void(Status)> done) {
  std::make_shared<Probe>(std::move(ex), t, std::move(done))->start();
}

}  // namespace ptp
