#include "gateway/peering/peering_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "codecs/json_depth.h"
#include "trust/certificate.h"

namespace ptp {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kAnswerLimit = 64 << 10;

// The server's chain must end at the pinned root (by fingerprint), and its leaf be issued
// by that root and name the node (trust's verify_issued_by).
Status check_server(SSL* ssl, const PeeringCall& call) {
  auto bad = [&](std::string why) {
    return Status::Error(Code::kBadCertSignature, "node " + call.expect_node + " at " +
                                                      call.address.to_string() + ": " + why);
  };
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);  // the leaf first, on a client
  if (!chain || sk_X509_num(chain) < 2)
    return bad("the server sent no chain ending at its node root");
  auto own = [](X509* c) {
    X509_up_ref(c);
    return Certificate(trust::X509Ptr(c));
  };
  Certificate leaf = own(sk_X509_value(chain, 0));
  Certificate root = own(sk_X509_value(chain, sk_X509_num(chain) - 1));
  if (root.fingerprint_hex() != call.root_fp)
    return bad("its root certificate is not the one pinned (sha256:" + call.root_fp + ")");
  std::string error;
  if (!verify_issued_by(leaf, root, error)) return bad(error);
  if (leaf.node_id() != call.expect_node)
    return bad("its certificate does not name node " + call.expect_node);
  return Status::Ok();
}

struct Call : std::enable_shared_from_this<Call> {
  Call(asio::io_context& ioc, PeeringCall c, PeeringCallDone d)
      : tls(ssl::context::tls_client),
        resolver(ioc),
        stream(ioc, tls),
        timer(ioc),
        call(std::move(c)),
        done(std::move(d)) {}

  ssl::context tls;
  tcp::resolver resolver;
  ssl::stream<tcp::socket> stream;
  asio::steady_timer timer;
  PeeringCall call;
  PeeringCallDone done;
  http::request<http::string_body> req;
  boost::beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;

  void finish(Status st, std::string body = {}) {
    timer.cancel();
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
    resolver.cancel();
    if (auto d = std::exchange(done, nullptr)) d(std::move(st), std::move(body));
  }

  void fail(const std::string& what, const boost::system::error_code& ec) {
    finish(Status::Error(Code::kUnreachable, "node " + call.expect_node + " at " +
                                                 call.address.to_string() + ": " + what + ": " +
                                                 ec.message()));
  }

  void start() {
    tls.set_verify_mode(ssl::verify_none);  // checked by check_server once the handshake is done
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(stream.native_handle(), kAlpn, sizeof kAlpn);
    timer.expires_after(call.timeout);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->done)
        self->finish(Status::Error(Code::kTimeout, "node " + self->call.expect_node + " at " +
                                                       self->call.address.to_string() +
                                                       " did not answer in time"));
    });
    resolver.async_resolve(call.address.host, std::to_string(call.address.port),
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       tcp::resolver::results_type results) {
                             if (ec) return self->fail("cannot resolve", ec);
                             self->connect(results);
                           });
  }

  void connect(const tcp::resolver::results_type& results) {
    asio::async_connect(
        stream.lowest_layer(), results,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
          if (ec) return self->fail("cannot connect", ec);
          self->handshake();
        });
  }

  void handshake() {
    stream.async_handshake(
        ssl::stream_base::client, [self = shared_from_this()](const boost::system::error_code& ec) {
          if (ec) return self->fail("TLS handshake failed", ec);
          if (Status st = check_server(self->stream.native_handle(), self->call); !st.ok())
            return self->finish(std::move(st));
          self->write();
        });
  }

  void write() {
    req.method(http::verb::post);
    req.target(call.path);
    req.version(11);
    req.set(http::field::host, call.address.to_string());
    req.set(http::field::content_type, "application/json");
    req.set(http::field::connection, "close");
    req.body() = call.body;
    req.prepare_payload();
    http::async_write(stream, req,
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec) return self->fail("cannot send", ec);
                        self->read();
                      });
  }

  void read() {
    parser.emplace();
    parser->body_limit(kAnswerLimit);
    http::async_read(stream, buffer, *parser,
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec) return self->fail("no answer", ec);
                       auto& res = self->parser->get();
                       Status st = answer_status(res.result_int(), res.body());
                       self->finish(std::move(st), std::move(res.body()));
                     });
  }
};

}  // namespace

Status answer_status(unsigned http_status, std::string_view body) {
  using Json = nlohmann::json;
  Json o = json_depth_within(body, 8) ? Json::parse(body, nullptr, false) : Json();
  if (!o.is_object() || !o.contains("code") || !o["code"].is_string())
    return Status::Error(Code::kUnknown, "answer without {\"code\",\"message\"} (HTTP " +
                                             std::to_string(http_status) + ")");
  Code c = Code::kUnknown;
  if (!parse_code(o["code"].get<std::string>(), c)) c = Code::kUnknown;
  if (c == Code::kOk) return Status::Ok();
  std::string msg = o.contains("message") && o["message"].is_string()
                        ? o["message"].get<std::string>()
                        : std::string(describe(c));
  std::string hop = o.contains("hop") && o["hop"].is_string() ? o["hop"].get<std::string>() : "";
  return Status::Error(c, std::move(msg), std::move(hop));
}

void post_peering_call(boost::asio::io_context& ioc, PeeringCall call, PeeringCallDone done) {
  auto c = std::make_shared<Call>(ioc, std::move(call), std::move(done));
  c->start();
}

}  // namespace ptp
