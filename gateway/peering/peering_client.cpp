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
#include "common/node_uri.h"

namespace ptp {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kAnswerLimit = 64 << 10;

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return {};
  std::string out;
  if (PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  return out;
}

// The server's chain must end at the pinned root (by fingerprint), the leaf be issued by
// it (verified by OpenSSL with that root as the only trust anchor) and name the node.
Status check_server(SSL* ssl, const PeeringCall& call, const CertFingerprint& fingerprint) {
  auto bad = [&](std::string why) {
    return Status::Error(Code::kBadCertSignature, "node " + call.expect_node + " at " +
                                                      call.address.to_string() + ": " + why);
  };
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);  // the leaf first, on a client
  if (!chain || sk_X509_num(chain) < 2)
    return bad("the server sent no chain ending at its node root");
  X509* leaf = sk_X509_value(chain, 0);
  X509* root = sk_X509_value(chain, sk_X509_num(chain) - 1);
  if (fingerprint(pem_of(root)) != call.root_fp)
    return bad("its root certificate is not the one pinned (sha256:" + call.root_fp + ")");
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = store && ctx && X509_STORE_add_cert(store, root) == 1 &&
            X509_STORE_CTX_init(ctx, store, leaf, chain) == 1 && X509_verify_cert(ctx) == 1;
  std::string why =
      ok || !ctx ? std::string() : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  if (!ok) return bad("its certificate does not chain to its root: " + why);
  if (certificate_node_id(leaf) != call.expect_node)
    return bad("its certificate does not name node " + call.expect_node);
  return Status::Ok();
}

struct Call : std::enable_shared_from_this<Call> {
  Call(asio::io_context& ioc, PeeringCall c, CertFingerprint f, PeeringCallDone d)
      : tls(ssl::context::tls_client),
        resolver(ioc),
        stream(ioc, tls),
        timer(ioc),
        call(std::move(c)),
        fingerprint(std::move(f)),
        done(std::move(d)) {}

  ssl::context tls;
  tcp::resolver resolver;
  ssl::stream<tcp::socket> stream;
  asio::steady_timer timer;
  PeeringCall call;
  CertFingerprint fingerprint;
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
          if (Status st = check_server(self->stream.native_handle(), self->call, self->fingerprint);
              !st.ok())
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

void post_peering_call(boost::asio::io_context& ioc, PeeringCall call, CertFingerprint fingerprint,
                       PeeringCallDone done) {
  auto c = std::make_shared<Call>(ioc, std::move(call), std::move(fingerprint), std::move(done));
  c->start();
}

}  // namespace ptp
