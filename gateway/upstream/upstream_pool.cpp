#include "gateway/upstream/upstream_pool.h"

#include <algorithm>

#include "gateway/observability/metrics.h"

namespace ptp {

UpstreamPool::UpstreamPool(boost::asio::any_io_executor ex, Metrics* metrics)
    : ex_(std::move(ex)), metrics_(metrics) {}

UpstreamPool::~UpstreamPool() {
  for (auto& [k, e] : entries_)
    for (auto& s : e.sessions) {
      s->set_on_closed(nullptr);
      s->terminate("gateway shutting down");
    }
}

boost::asio::ssl::context* UpstreamPool::tls_context(const TlsClientConfig& tls, Status& err) {
  std::string key = tls.ca_file + "|" + tls.cert_file + "|" + tls.key_file + "|" +
                    (tls.verify ? "v" : "n") + "|" + tls.expected_node_id + "|" +
                    tls.pinned_root_pem;
  auto it = tls_.find(key);
  if (it != tls_.end()) return it->second.ctx.get();
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  std::unique_ptr<PinnedPeer> pin;
  if (!tls.pinned_root_pem.empty()) {
    pin = std::make_unique<PinnedPeer>(tls.expected_node_id);
    if (std::string why = pin->install(ctx->native_handle(), tls.pinned_root_pem); !why.empty()) {
      err = Status::Error(Code::kCertCheck, why);
      return nullptr;
    }
  } else if (tls.verify) {
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (tls.ca_file.empty())
      ctx->set_default_verify_paths(ec);
    else
      ctx->load_verify_file(tls.ca_file, ec);
    if (ec) {
      err = Status::Error(Code::kCertCheck, "cannot load CA " + tls.ca_file + ": " + ec.message());
      return nullptr;
    }
  }
  if (!tls.cert_file.empty()) {
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (!ec) ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) {
      err = Status::Error(Code::kCertCheck,
                          "cannot load client certificate " + tls.cert_file + ": " + ec.message());
      return nullptr;
    }
  }
  auto* raw = ctx.get();
  tls_.emplace(key, TlsContext{std::move(pin), std::move(ctx)});
  return raw;
}

UpstreamPool::Entry& UpstreamPool::entry(const Endpoint& ep, const TlsClientConfig& tls) {
  const UpstreamKeyView k = key_of(ep, tls);
  auto it = entries_.find(k);
  if (it == entries_.end()) it = entries_.emplace(UpstreamKey(k), Entry{}).first;
  return it->second;
}

H2ClientSession* UpstreamPool::ready(const Endpoint& ep, const TlsClientConfig& tls) {
  auto it = entries_.find(key_of(ep, tls));
  if (it == entries_.end()) return nullptr;
  for (auto& s : it->second.sessions)
    if (s->usable()) return s.get();
  return nullptr;
}

void UpstreamPool::close(const Endpoint& ep, const std::string& why) {
  // Gathered first: terminate() answers the streams, whose callbacks may use the pool.
  std::vector<std::shared_ptr<H2ClientSession>> doomed;
  for (auto& [k, e] : entries_)
    if (k.host == ep.host && k.port == ep.port)
      doomed.insert(doomed.end(), e.sessions.begin(), e.sessions.end());
  for (auto& s : doomed) s->terminate(why);
}

void UpstreamPool::get(const std::string& name, const Endpoint& ep, const TlsClientConfig& tls,
                       std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds keepalive, GetCallback cb) {
  Entry& e = entry(ep, tls);
  std::erase_if(e.sessions, [](const auto& s) { return s->closed(); });
  for (auto& s : e.sessions)
    if (s->usable()) {
      cb(s, Status::Ok());
      return;
    }
  if (e.sessions.size() >= kMaxConnectionsPerHop) {
    std::shared_ptr<H2ClientSession> least;
    for (auto& s : e.sessions)
      if (s->takes_streams() && (!least || s->active_streams() < least->active_streams()))
        least = s;
    if (least) {
      cb(least, Status::Ok());
      return;
    }
  }
  e.waiters.push_back(std::move(cb));
  if (e.connecting) return;
  H2ClientSession::Options opts;
  opts.endpoint = ep;
  opts.server_name = tls.server_name;
  opts.connect_timeout = connect_timeout;
  opts.keepalive = keepalive;
  if (tls.enabled) {
    Status err;
    opts.tls = tls_context(tls, err);
    if (!opts.tls) {
      auto waiters = std::move(e.waiters);
      e.waiters.clear();
      for (auto& w : waiters) w(nullptr, err);
      return;
    }
  }
  e.connecting = true;
  H2ClientSession::connect(ex_, opts,
                           [this, &e, name](std::shared_ptr<H2ClientSession> s, Status st) {
                             e.connecting = false;
                             auto waiters = std::move(e.waiters);
                             e.waiters.clear();
                             // A TLS handshake that failed (E0000000606), with its reason.
                             if (!s && metrics_ && st.code == Code::kCertCheck)
                               metrics_->tls_handshake_failed(Metrics::TlsSide::kClient,
                                                              Metrics::tls_failure_of(st.message));
                             if (s) {
                               if (metrics_) metrics_->upstream_connections(name, +1);
                               s->set_on_closed([this, name](const std::string&) {
                                 if (metrics_) metrics_->upstream_connections(name, -1);
                               });
                               e.sessions.push_back(s);
                             }
                             for (auto& w : waiters) w(s, st);
                           });
}

}  // namespace ptp
