#include "gateway/diagnose/connect_probe.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <memory>

#include "gateway/upstream/pinned_peer.h"

namespace ptp {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string name_text(const X509_NAME* n) {
  if (!n) return {};
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), n, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

// "2027-12-04T10:00:00Z"
std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void describe(X509* cert, HopTls& out) {
  out.subject = name_text(X509_get_subject_name(cert));
  out.issuer = name_text(X509_get_issuer_name(cert));
  out.not_after = time_text(X509_get0_notAfter(cert));
}

// The SSL ex-data slot where the handshake finds the HopTls to describe the leaf in.
int tls_slot() {
  static const int slot = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return slot;
}

// Called for each certificate of the chain as it is verified (also under a pinned root's
// verification): notes the leaf, so who answered is known when verification fails too.
int note_leaf(int preverify_ok, X509_STORE_CTX* sc) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(sc, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* out = ssl ? static_cast<HopTls*>(SSL_get_ex_data(ssl, tls_slot())) : nullptr;
  if (out && out->subject.empty())
    if (X509* leaf = X509_STORE_CTX_get0_cert(sc)) describe(leaf, *out);
  return preverify_ok;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

ConnectResult probe_connect(ProbeLoop& loop, const Endpoint& ep, asio::ssl::context* tls,
                            const std::string& server_name, std::chrono::milliseconds timeout) {
  ConnectResult out;
  const std::string where = ep.to_string();
  auto socket = std::make_shared<tcp::socket>(loop.executor());
  auto resolver = std::make_shared<tcp::resolver>(loop.executor());
  auto done = std::make_shared<bool>(false);
  auto ec_out = std::make_shared<boost::system::error_code>();
  const auto start = Clock::now();
  resolver->async_resolve(
      ep.host, std::to_string(ep.port),
      [socket, done, ec_out](const boost::system::error_code& ec, tcp::resolver::results_type rs) {
        if (ec) {
          *ec_out = ec;
          *done = true;
          return;
        }
        asio::async_connect(*socket, rs,
                            [done, ec_out](const boost::system::error_code& ec, const auto&) {
                              *ec_out = ec;
                              *done = true;
                            });
      });
  if (!loop.run_until([&] { return *done; }, Clock::now() + timeout)) {
    boost::system::error_code ignored;
    resolver->cancel();
    socket->close(ignored);
    out.error = "no answer within " + std::to_string(timeout.count()) + " ms";
    return out;
  }
  if (*ec_out) {
    out.error = ec_out->message();
    return out;
  }
  out.connect_ms = ms_since(start);
  if (!tls) {
    boost::system::error_code ignored;
    socket->shutdown(tcp::socket::shutdown_both, ignored);
    socket->close(ignored);
    return out;
  }
  HopTls& t = out.tls.emplace();
  t.used = true;
  auto stream = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(*socket), *tls);
  const std::string sni = server_name.empty() ? ep.host : server_name;
  if (!is_ip_literal(sni)) SSL_set_tlsext_host_name(stream->native_handle(), sni.c_str());
  SSL_set1_host(stream->native_handle(), sni.c_str());
  SSL_set_ex_data(stream->native_handle(), tls_slot(), &t);
  SSL_set_verify(stream->native_handle(), SSL_get_verify_mode(stream->native_handle()), note_leaf);
  *done = false;
  const auto hs_start = Clock::now();
  stream->async_handshake(asio::ssl::stream_base::client,
                          [done, ec_out](const boost::system::error_code& ec) {
                            *ec_out = ec;
                            *done = true;
                          });
  const bool finished = loop.run_until([&] { return *done; }, Clock::now() + timeout);
  SSL* ssl = stream->native_handle();
  SSL_set_ex_data(ssl, tls_slot(), nullptr);  // `t` is not touched after this call
  if (std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), X509_free);
      cert)
    describe(cert.get(), t);  // without verification (tls.verify: false) too
  const long verify = SSL_get_verify_result(ssl);
  if (!finished || *ec_out) {
    out.tls_failed = true;
    t.error = !finished ? "TLS handshake with " + where + " did not finish within " +
                              std::to_string(timeout.count()) + " ms"
                        : "TLS handshake with " + where + " failed: " + ec_out->message();
    if (verify != X509_V_OK) t.error += " (" + tls_verify_text(verify) + ")";
    out.error = t.error;
  } else {
    t.handshake_ms = ms_since(hs_start);
    // Verified when the context verifies (a pinned root, a CA) and the chain passed.
    t.verified = SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && verify == X509_V_OK;
  }
  boost::system::error_code ignored;
  stream->lowest_layer().close(ignored);
  return out;
}

}  // namespace ptp
