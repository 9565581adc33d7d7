#include "gateway/upstream/peer_health.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/scrape_family.h"
#include "gateway/upstream/address_probe.h"
#include "gateway/upstream/upstream_pool.h"

namespace ptp {

namespace asio = boost::asio;

struct PeerHealth::Peer {
  std::string node_id;
  std::vector<Endpoint> addresses;
  PeerProtocol protocol = PeerProtocol::kHttp2;
  TlsClientConfig tls;
  PeerHealthConfig health;                // checker thread
  std::shared_ptr<AddressChoice> choice;  // the newest snapshot's
  // Guarded by PeerHealth::mu_.
  std::vector<AddressHealth> states;
  size_t chosen = 0;
  uint64_t failovers = 0;
  // Checker thread only.
  bool retired = false;  // replaced by a reload or gone: its checks stop
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
};

namespace {

bool same_endpoints(const std::vector<Endpoint>& a, const std::vector<Endpoint>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].host != b[i].host || a[i].port != b[i].port) return false;
  return true;
}

bool same_tls(const TlsClientConfig& a, const TlsClientConfig& b) {
  return a.enabled == b.enabled && a.ca_file == b.ca_file && a.cert_file == b.cert_file &&
         a.key_file == b.key_file && a.server_name == b.server_name && a.verify == b.verify &&
         a.pinned_root_pem == b.pinned_root_pem && a.expected_node_id == b.expected_node_id;
}

// Whether the checks (and their results so far) of `p` still hold for `c`.
template <class P>
bool same_checks(const P& p, const PeerConfig& c) {
  return same_endpoints(p.addresses, c.addresses) && p.protocol == c.protocol &&
         same_tls(p.tls, c.tls);
}

}  // namespace

PeerHealth::PeerHealth(ConfigStore& store, Metrics& metrics, JsonLog& log)
    : store_(store),
      metrics_(metrics),
      log_(log),
      tls_(std::make_unique<UpstreamPool>(io_.get_executor(), nullptr)) {
  metrics_.add_collector([this](std::vector<prometheus::MetricFamily>& out) {
    auto up = scrape::family("ptp_peer_address_up",
                             "Whether an address of a peer with several passes its health checks "
                             "(1) or not (0), by peer and address",
                             prometheus::MetricType::Gauge);
    auto moves = scrape::family("ptp_peer_failovers_total",
                                "Moves of a peer's traffic from one of its addresses to another "
                                "(away from a failed one, and back), by peer",
                                prometheus::MetricType::Counter);
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, p] : peers_) {
        for (size_t i = 0; i < p->addresses.size(); ++i)
          scrape::sample(up, {{"peer", id}, {"address", p->addresses[i].to_string()}},
                         p->states[i].up ? 1 : 0);
        scrape::sample(moves, {{"peer", id}}, static_cast<double>(p->failovers));
      }
    }
    out.push_back(std::move(up));
    out.push_back(std::move(moves));
  });
  store_.set_prepare([this](const ConfigPtr& next) { prepare(next); });
}

PeerHealth::~PeerHealth() {
  store_.set_prepare(nullptr);
  stop();
  // Timers go while the io_context is alive; handlers still queued die with it.
  for (auto& [id, p] : peers_) p->timers.clear();
}

void PeerHealth::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    auto work = asio::make_work_guard(io_);
    io_.run();
  });
}

void PeerHealth::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void PeerHealth::prepare(const ConfigPtr& next) {
  {
    std::lock_guard lock(mu_);
    for (const PeerConfig& c : next->peers) {
      if (!c.choice) continue;
      auto it = peers_.find(c.node_id);
      if (it != peers_.end() && same_checks(*it->second, c))
        c.choice->index.store(static_cast<uint32_t>(it->second->chosen));
    }
  }
  asio::post(io_, [this, next] { follow(next); });
}

void PeerHealth::follow(const ConfigPtr& cfg) {
  std::map<std::string, PeerPtr> next;
  std::vector<PeerPtr> fresh;
  {
    std::lock_guard lock(mu_);
    for (const PeerConfig& c : cfg->peers) {
      if (!c.choice) continue;
      auto it = peers_.find(c.node_id);
      PeerPtr p;
      if (it != peers_.end() && same_checks(*it->second, c)) {
        p = it->second;
      } else {
        p = std::make_shared<Peer>();
        p->node_id = c.node_id;
        p->addresses = c.addresses;
        p->protocol = c.protocol;
        p->tls = c.tls;
        p->states.resize(c.addresses.size());
        for (size_t i = 0; i < c.addresses.size(); ++i)
          p->timers.push_back(std::make_unique<asio::steady_timer>(io_));
        fresh.push_back(p);
      }
      p->health = c.health;
      p->choice = c.choice;
      p->choice->index.store(static_cast<uint32_t>(p->chosen));
      next.emplace(c.node_id, std::move(p));
    }
    for (auto& [id, p] : peers_) {
      auto it = next.find(id);
      if (it != next.end() && it->second == p) continue;
      p->retired = true;
      for (auto& t : p->timers) t->cancel();
    }
    peers_ = std::move(next);
  }
  for (const PeerPtr& p : fresh) {
    std::string list;
    for (const auto& a : p->addresses) list += (list.empty() ? "" : ",") + a.to_string();
    log_.info("checking the addresses of a peer",
              {.extra = {{"peer", p->node_id}, {"addresses", list}}});
    for (size_t i = 0; i < p->addresses.size(); ++i) schedule(p, i, std::chrono::milliseconds(0));
  }
}

void PeerHealth::schedule(const PeerPtr& p, size_t i, std::chrono::milliseconds after) {
  asio::steady_timer& t = *p->timers[i];
  t.expires_after(after);
  t.async_wait([this, p, i](const boost::system::error_code& ec) {
    if (ec || p->retired) return;
    check(p, i);
  });
}

void PeerHealth::check(const PeerPtr& p, size_t i) {
  const auto started = std::chrono::steady_clock::now();
  auto then = [this, p, i, started](Status st) {
    if (p->retired) return;
    on_result(p, i, st);
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    schedule(p, i, std::max(std::chrono::milliseconds(0), p->health.interval - spent));
  };
  ProbeTarget t;
  t.endpoint = p->addresses[i];
  t.protocol = p->protocol;
  t.timeout = p->health.timeout;
  if (p->tls.enabled) {
    Status err;
    t.tls = tls_->tls_context(p->tls, err);
    if (!t.tls) return then(std::move(err));
    t.server_name = p->tls.server_name;
  }
  probe_address(io_.get_executor(), t, std::move(then));
}

void PeerHealth::on_result(const PeerPtr& p, size_t i, const Status& st) {
  std::optional<PeerMove> move;
  bool changed = false;
  const std::string address = p->addresses[i].to_string();
  {
    std::lock_guard lock(mu_);
    AddressHealth& h = p->states[i];
    changed = record_check(h, st.ok(), p->health.fall, p->health.rise, st.message);
    const size_t c = choose_address(p->states);
    if (c != p->chosen) {
      const AddressHealth& from = p->states[p->chosen];
      move = PeerMove{p->node_id, p->addresses[p->chosen], p->addresses[c], !from.up, {}};
      if (!from.up)
        move->why = "address " + move->from.to_string() + " of peer " + p->node_id +
                    " failed its health checks (" + from.why + ")";
      else
        move->why = "address " + move->to.to_string() + " of peer " + p->node_id +
                    " passes its health checks again";
      if (!p->states[c].up) move->why += "; no address of the peer is up, using the first";
      p->chosen = c;
      ++p->failovers;
      p->choice->index.store(static_cast<uint32_t>(c));
    }
  }
  if (changed && !st.ok())
    log_.warn("peer address down", {.extra = {{"peer", p->node_id},
                                              {"address", address},
                                              {"failed_checks", std::to_string(p->health.fall)},
                                              {"error", st.message}}});
  else if (changed)
    log_.info("peer address up", {.extra = {{"peer", p->node_id},
                                            {"address", address},
                                            {"good_checks", std::to_string(p->health.rise)}}});
  if (!move) return;
  log_.warn("peer failover", {.extra = {{"peer", move->peer},
                                        {"from", move->from.to_string()},
                                        {"to", move->to.to_string()},
                                        {"why", move->why}}});
  if (on_move_) on_move_(*move);
}

}  // namespace ptp
