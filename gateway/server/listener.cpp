#include "gateway/server/listener.h"

#include <openssl/ssl.h>
#include <sys/resource.h>

#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <stdexcept>

#include "gateway/evidence/message_signing.h"
#include "gateway/observability/json_log.h"
#include "gateway/server/h2_server_session.h"
#include "gateway/server/http1_server_session.h"

namespace ptp {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// connections.max_connections; by default 3/4 of the descriptor limit, leaving the rest
// for the admin port, next hops, the queue store and logs.
size_t connection_limit(const ConnectionsConfig& c) {
  if (c.max_connections) return c.max_connections;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return std::max<size_t>(16, rl.rlim_cur / 4 * 3);
}

// ALPN: prefer h2, fall back to http/1.1.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (std::string_view want : {std::string_view("h2"), std::string_view("http/1.1")}) {
    for (unsigned i = 0; i < inlen;) {
      unsigned len = in[i];
      if (i + 1 + len > inlen) break;
      if (len == want.size() && std::memcmp(in + i + 1, want.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string remote_of(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Reads the first bytes of a cleartext connection to tell HTTP/2 prior knowledge from
// HTTP/1.1. A client that connects and says nothing is closed after
// connections.first_bytes_ms, so idle sockets cannot pile up.
struct Sniffer : std::enable_shared_from_this<Sniffer> {
  tcp::socket socket;
  asio::steady_timer deadline;
  std::string seen;
  std::array<char, 24> buf{};
  std::function<void(tcp::socket, std::string, bool)> done;
  explicit Sniffer(tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
  void start(std::chrono::milliseconds timeout) {
    deadline.expires_after(timeout);
    deadline.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->socket.close();  // the pending read then ends with an error
    });
    read();
  }
  void read() {
    socket.async_read_some(asio::buffer(buf), [self = shared_from_this()](
                                                  const boost::system::error_code& ec, size_t n) {
      if (ec) {  // closed (or timed out) before saying enough
        self->deadline.cancel();
        return;
      }
      self->seen.append(self->buf.data(), n);
      size_t k = std::min(self->seen.size(), kPreface.size());
      bool prefix_ok = self->seen.compare(0, k, kPreface.substr(0, k)) == 0;
      if (!prefix_ok || self->seen.size() >= kPreface.size()) {
        self->deadline.cancel();
        self->done(std::move(self->socket), std::move(self->seen), prefix_ok);
        return;
      }
      self->read();
    });
  }
};

// "10 s", or "250 ms" when not whole seconds.
std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s"
                               : std::to_string(d.count()) + " ms";
}

Http1Limits http1_limits(const Config& cfg) {
  Http1Limits l;
  l.max_body_bytes = cfg.limits.max_body_bytes;
  l.max_header_bytes = static_cast<uint32_t>(cfg.limits.max_header_bytes);
  l.node_id = cfg.node_id;
  l.idle_timeout = cfg.connections.idle;
  l.io_timeout = cfg.connections.progress;
  l.min_progress_bytes = cfg.connections.min_progress_bytes;
  return l;
}

H2ServerSettings h2_settings(const Config& cfg, std::shared_ptr<BodyBudget> body_budget) {
  H2ServerSettings s;
  s.max_body_bytes = cfg.limits.max_body_bytes;
  s.max_header_bytes = cfg.limits.max_header_bytes;
  s.max_concurrent_streams = cfg.limits.max_concurrent_streams;
  s.node_id = cfg.node_id;
  s.buffered_body_bytes_per_connection = cfg.limits.buffered_body_bytes_per_connection;
  s.body_budget = std::move(body_budget);
  s.grpc_errors = cfg.grpc_errors;
  // Peer gateways index batch statements in the HPACK table of their connections to a
  // gateway that checks them, and to a router, which passes them on whether or not it has
  // an evidence section of its own (docs/evidence.md "Batch statements").
  if ((evidence_signing(cfg) && cfg.evidence.batch_statements) || cfg.router_role)
    s.peer_header_table_bytes = kPeerHeaderTableBytes;
  return s;
}

H2Timeouts h2_timeouts(const Config& cfg) {
  return {.idle = cfg.connections.idle, .progress = cfg.connections.progress};
}

}  // namespace

Listener::Listener(std::vector<asio::io_context*> contexts,
                   std::function<Dispatcher&(size_t)> dispatcher_for, const Config& cfg,
                   JsonLog& log)
    : contexts_(std::move(contexts)),
      dispatcher_for_(std::move(dispatcher_for)),
      cfg_(cfg),
      log_(log),
      acceptor_(*contexts_.at(0)),
      limit_(connection_limit(cfg.connections)),
      pause_(*contexts_.at(0)) {
  for (size_t i = 0; i < contexts_.size(); ++i)
    sessions_.push_back(std::make_unique<SessionRegistry>());
  tls_failure_logs_.assign(contexts_.size(), LogThrottle(std::chrono::seconds(1), 20));
  // listen.tls, else this node's identity (tls.crt: the leaf followed by the node root).
  if (cfg_.tls || !cfg_.identity.dir.empty()) {
    const bool own = cfg_.tls.has_value();
    const std::string cert = own ? cfg_.tls->cert_file : cfg_.identity.tls_cert_file();
    const std::string key = own ? cfg_.tls->key_file : cfg_.identity.tls_key_file();
    const std::string cert_key = own ? "listen.tls.cert " : "identity.dir ";
    const std::string key_key = own ? "listen.tls.key " : "identity.dir ";
    tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use);
    boost::system::error_code ec;
    tls_->use_certificate_chain_file(cert, ec);
    if (ec) throw std::runtime_error(cert_key + cert + ": " + ec.message());
    tls_->use_private_key_file(key, ssl::context::pem, ec);
    if (ec) throw std::runtime_error(key_key + key + ": " + ec.message());
    // Client certificates: peers' pinned roots (with an identity) and listen.tls.client_ca.
    if (!cfg_.identity.dir.empty() || (own && !cfg_.tls->client_ca_file.empty())) {
      clients_ = std::make_unique<ClientVerifier>(cfg_);
      clients_->install(tls_->native_handle());
    }
    SSL_CTX_set_alpn_select_cb(tls_->native_handle(), select_alpn, nullptr);
  }
}

Listener::~Listener() { stop(); }

void Listener::start() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(cfg_.listen.host, ec);
  if (ec) throw std::runtime_error("listen.address " + cfg_.listen.host + ": " + ec.message());
  tcp::endpoint ep(addr, cfg_.listen.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + cfg_.listen.to_string() + ": " + ec.message());
  acceptor_.listen(asio::socket_base::max_listen_connections);
  accept();
}

void Listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  pause_.cancel();
}

const Config& Listener::limits_source(ConfigPtr& hold) const {
  if (store_) hold = store_->current();
  return hold ? *hold : cfg_;
}

uint16_t Listener::port() const { return acceptor_.local_endpoint().port(); }

void Listener::drain() {
  for (size_t i = 0; i < contexts_.size(); ++i)
    asio::post(*contexts_[i], [r = sessions_[i].get()] { r->drain_all(); });
}

size_t Listener::live_sessions() {
  size_t n = 0;
  for (size_t i = 0; i < contexts_.size(); ++i) {
    asio::post(*contexts_[i], [r = sessions_[i].get()] { r->purge(); });  // for the next call
    n += sessions_[i]->live();
  }
  return n;
}

void Listener::accept() {
  size_t i = next_++ % contexts_.size();
  acceptor_.async_accept(*contexts_[i],
                         [this, i](const boost::system::error_code& ec, tcp::socket s) {
                           if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
                           if (ec) return on_accept_error(ec);
                           on_accepted(std::move(s), i);
                           accept();
                         });
}

void Listener::on_accepted(tcp::socket s, size_t i) {
  ConnectionSlot slot = limit_.try_acquire();
  if (!slot) {
    // Over connections.max_connections: closed at once, the client sees a reset.
    boost::system::error_code ignored;
    s.set_option(asio::socket_base::linger(true, 0), ignored);
    s.close(ignored);
    if (uint64_t left_out = 0; over_limit_log_.allow(left_out))
      log_.warn("connection refused, limit reached",
                {.extra = {{"max_connections", std::to_string(limit_.max())},
                           {"suppressed", std::to_string(left_out)}}});
    return;
  }
  boost::system::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  // Continue on the connection's own context.
  asio::post(*contexts_[i], [this, i, s = std::move(s), slot = std::move(slot)]() mutable {
    if (tls_)
      on_tls(std::move(s), i, std::move(slot));
    else
      on_plain(std::move(s), i, std::move(slot));
  });
}

void Listener::on_accept_error(const boost::system::error_code& ec) {
  if (uint64_t left_out = 0; accept_error_log_.allow(left_out))
    log_.warn("accept failed",
              {.extra = {{"error", ec.message()}, {"suppressed", std::to_string(left_out)}}});
  if (ec == asio::error::connection_aborted) return accept();  // that client gave up
  // Out of descriptors (or memory): the pending connection would fail the next accept at
  // once. Shed it through the spare descriptor and pause, instead of spinning.
  if (AcceptBackoff::out_of_descriptors(ec)) backoff_.shed_one(acceptor_.native_handle());
  pause_.expires_after(AcceptBackoff::kPause);
  pause_.async_wait([this](const boost::system::error_code& wait_ec) {
    if (!wait_ec && acceptor_.is_open()) accept();
  });
}

void Listener::on_plain(tcp::socket s, size_t i, ConnectionSlot slot) {
  auto sniff = std::make_shared<Sniffer>(std::move(s));
  // The slot lives in the callback, which the sniffer holds until it is done or gone.
  auto held = std::make_shared<ConnectionSlot>(std::move(slot));
  sniff->done = [this, i, held](tcp::socket sock, std::string seen, bool h2) {
    std::string remote = remote_of(sock);
    Dispatcher& d = dispatcher_for_(i);
    ConfigPtr hold;
    const Config& limits = limits_source(hold);
    if (h2) {
      auto session =
          H2ServerSession::start(std::make_unique<ByteStreamOf<tcp::socket>>(std::move(sock)), seen,
                                 d, h2_settings(limits, body_budget_), std::move(remote));
      session->hold(std::move(*held));
      session->watch(h2_timeouts(cfg_));
      sessions_[i]->add(session);
      return;
    }
    boost::beast::flat_buffer buf;
    auto mb = buf.prepare(seen.size());
    std::memcpy(mb.data(), seen.data(), seen.size());
    buf.commit(seen.size());
    auto session = std::make_shared<Http1ServerSession<tcp::socket>>(
        std::move(sock), std::move(buf), d, http1_limits(limits), std::move(remote));
    session->hold(std::move(*held));
    session->start();
    sessions_[i]->add(session);
  };
  sniff->start(cfg_.connections.first_bytes);
}

void Listener::on_tls(tcp::socket s, size_t i, ConnectionSlot slot) {
  // A client gets connections.tls_handshake_ms to complete the handshake; one that
  // connects and says nothing must not hold a socket for ever.
  struct Handshake {
    Handshake(tcp::socket s, ssl::context& ctx, ConnectionSlot slot)
        : stream(std::move(s), ctx), timer(stream.get_executor()), slot(std::move(slot)) {}
    TlsStream stream;
    asio::steady_timer timer;
    ConnectionSlot slot;
    bool timed_out = false;
  };
  std::string remote = remote_of(s);
  auto hs = std::make_shared<Handshake>(std::move(s), *tls_, std::move(slot));
  const auto handshake_timeout = cfg_.connections.tls_handshake;
  hs->timer.expires_after(handshake_timeout);
  hs->timer.async_wait([w = std::weak_ptr<Handshake>(hs)](const boost::system::error_code& ec) {
    auto hs = w.lock();
    if (ec || !hs) return;
    hs->timed_out = true;
    boost::system::error_code ignored;
    hs->stream.next_layer().close(ignored);  // fails the pending handshake
  });
  hs->stream.async_handshake(ssl::stream_base::server, [this, i, hs, remote, handshake_timeout](
                                                           const boost::system::error_code& ec) {
    hs->timer.cancel();
    if (ec || hs->timed_out) {
      if (metrics_)
        metrics_->tls_handshake_failed(
            Metrics::TlsSide::kServer,
            hs->timed_out ? Metrics::TlsFailure::kTimeout : Metrics::tls_failure_of(ec.message()));
      uint64_t suppressed = 0;
      if (!tls_failure_logs_[i].allow(suppressed)) return;
      log_.info("TLS handshake failed",
                {.extra = {{"remote", remote},
                           {"error", hs->timed_out
                                         ? "no handshake within " + duration_text(handshake_timeout)
                                         : ec.message()},
                           {"suppressed", std::to_string(suppressed)}}});
      return;
    }
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(hs->stream.native_handle(), &proto, &len);
    Dispatcher& d = dispatcher_for_(i);
    ConfigPtr hold;
    const Config& limits = limits_source(hold);
    // Once per connection: every request on it carries the same hop identity.
    std::string hop = clients_ ? clients_->hop_node_id(hs->stream.native_handle()) : "";
    if (len == 2 && std::memcmp(proto, "h2", 2) == 0) {
      H2ServerSettings settings = h2_settings(limits, body_budget_);
      settings.hop_node_id = std::move(hop);
      auto session =
          H2ServerSession::start(std::make_unique<ByteStreamOf<TlsStream>>(std::move(hs->stream)),
                                 {}, d, std::move(settings), remote);
      session->hold(std::move(hs->slot));
      session->watch(h2_timeouts(cfg_));
      sessions_[i]->add(session);
      return;
    }
    Http1Limits l1 = http1_limits(limits);
    l1.hop_node_id = std::move(hop);
    auto session = std::make_shared<Http1ServerSession<TlsStream>>(
        std::move(hs->stream), boost::beast::flat_buffer{}, d, std::move(l1), remote);
    session->hold(std::move(hs->slot));
    session->start();
    sessions_[i]->add(session);
  });
}

}  // namespace ptp
