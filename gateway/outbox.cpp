#include "gateway/outbox.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>

#include "gateway/forwarder.h"
#include "gateway/json_log.h"
#include "gateway/pipeline.h"
#include "gateway/queue_service.h"
#include "gateway/route_table.h"
#include "gateway/token.h"

namespace ptp {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kPopWait{30000};
constexpr int64_t kForwardTokenTtl = 300;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The target refused the message for good: retrying cannot help.
bool permanent(Code c) {
  switch (c) {
    case Code::kBadRequest:
    case Code::kForbidden:
    case Code::kTooLarge:
    case Code::kSessionReleased:
    case Code::kCodecError:
    case Code::kNotPermitted:
      return true;
    default:
      return false;
  }
}

bool expired(const QueuedMessage& m, int64_t now) {
  auto it = m.env.meta.find(std::string(kOutboxExpiryKey));
  if (it == m.env.meta.end()) return false;
  int64_t at = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), at);
  return ec == std::errc() && now > at;
}

}  // namespace

// Forwards the messages of one target, one at a time, so the target sees them in order.
class Outbox::Drainer : public std::enable_shared_from_this<Drainer> {
 public:
  Drainer(Outbox& box, std::string target)
      : box_(box),
        store_(box.store_),
        ex_(box.ex_),
        target_(std::move(target)),
        key_(key_for(target_)),
        timer_(box.ex_) {}

  void start() { next(); }

  void stop() {
    stopped_ = true;
    timer_.cancel();
    if (ticket_) box_.store_.cancel_pop(*ticket_);
  }

 private:
  void next() {
    if (stopped_) return;
    auto self = shared_from_this();
    // The store may answer after the Outbox is gone (shutdown): touch only what the
    // drainer owns until the handler runs on ex_ (which then has stopped running).
    ticket_ = store_.pop(key_, kPopWait, [self](Status s, std::optional<QueuedMessage> m) {
      boost::asio::post(self->ex_, [self, s = std::move(s), m = std::move(m)]() mutable {
        self->on_popped(std::move(s), std::move(m));
      });
    });
  }

  void on_popped(Status s, std::optional<QueuedMessage> m) {
    ticket_.reset();
    if (stopped_) {
      if (m) box_.store_.nack(key_, m->offset);
      return;
    }
    if (!s.ok()) {
      box_.log_.error("outbox read failed",
                      {.target = target_, .extra = {{"error", s.to_string()}}});
      return retry_later();
    }
    if (!m) return next();
    if (expired(*m, unix_now())) {
      box_.log_.error("outbox message expired undelivered, dropped",
                      log_fields(*m, Status::Error(Code::kTimeout, "outbox_ttl_s passed")));
      box_.store_.ack(key_, m->offset);
      return next();
    }
    forward(std::move(*m));
  }

  LogFields log_fields(const QueuedMessage& m, const Status& s) const {
    LogFields f{.trace_id = m.env.header.trace_id,
                .session_id = m.env.header.session_id,
                .source = m.env.header.source_node_id,
                .target = target_};
    f.code = s.code;
    f.hop = s.hop;
    f.extra = {{"message_id", m.message_id}, {"error", s.message}};
    return f;
  }

  void forward(QueuedMessage m) {
    ConfigPtr cfg = box_.config_.current();
    Request req;
    req.iface = Interface::kInvoke;
    req.wire = WireProtocol::kHttp2;
    req.env = m.env;
    req.env.header.uri = std::string(kQueuePushUri);
    req.env.header.source_node_id = cfg->node_id;
    if (req.env.header.version.empty()) req.env.header.version = "1";
    if (req.env.header.trace_id.empty()) req.env.header.trace_id = new_trace_id();
    req.env.meta.erase(std::string(kOutboxExpiryKey));
    req.env.meta[std::string(kRoutePathKey)] = cfg->node_id;
    // A fresh token when this node holds its own key: the container's may have expired
    // while the message waited.
    if (auto k = cfg->auth.node_keys.find(cfg->node_id); k != cfg->auth.node_keys.end())
      req.env.header.token = mint_token(k->second, cfg->node_id, target_, req.env.header.session_id,
                                        unix_now() + kForwardTokenTtl);
    RouteDecision route = resolve_route(*cfg, req.env.header);
    if (route.kind != RouteDecision::Kind::kPeer) {
      Status why = route.kind == RouteDecision::Kind::kError
                       ? route.error
                       : Status::Error(Code::kNotPeered, "no peer route");
      box_.log_.warn("outbox cannot route, will retry", log_fields(m, why));
      box_.store_.nack(key_, m.offset);
      return retry_later();
    }
    Forwarder fwd(box_.h2_, box_.h1_, *cfg);
    UpstreamTarget hop = target_for_peer(*route.next_hop, Interface::kInvoke);
    auto self = shared_from_this();
    fwd.forward(std::move(req), hop, [self, m = std::move(m), cfg](Response r) mutable {
      self->on_forwarded(std::move(m), r.env.status, *cfg);
    });
  }

  void on_forwarded(QueuedMessage m, const Status& s, const Config& cfg) {
    if (s.ok()) {
      box_.store_.ack(key_, m.offset);
      backoff_ = milliseconds(0);
      return next();
    }
    if (permanent(s.code)) {
      box_.log_.error("outbox message refused by the target, dropped", log_fields(m, s));
      box_.store_.ack(key_, m.offset);
      return next();
    }
    box_.log_.warn("outbox delivery failed, will retry", log_fields(m, s));
    box_.store_.nack(key_, m.offset);
    retry_later(&cfg);
  }

  void retry_later(const Config* cfg = nullptr) {
    if (stopped_) return;
    ConfigPtr current;
    if (!cfg) {
      current = box_.config_.current();
      cfg = current.get();
    }
    backoff_ =
        backoff_.count() == 0 ? cfg->queue.retry_min : std::min(backoff_ * 2, cfg->queue.retry_max);
    timer_.expires_after(backoff_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->next();
    });
  }

  Outbox& box_;
  QueueStore& store_;
  boost::asio::any_io_executor ex_;
  std::string target_;
  QueueKey key_;
  boost::asio::steady_timer timer_;
  milliseconds backoff_{0};
  std::optional<uint64_t> ticket_;
  bool stopped_ = false;
};

Outbox::Outbox(QueueStore& store, boost::asio::any_io_executor ex, ConfigStore& config,
               Metrics& metrics, JsonLog& log)
    : store_(store),
      ex_(ex),
      config_(config),
      metrics_(metrics),
      log_(log),
      h2_(ex, &metrics),
      h1_(ex) {}

Outbox::~Outbox() = default;

void Outbox::push(const std::string& target, QueuedMessage msg, std::chrono::milliseconds wait,
                  QueueStore::Done done) {
  store_.push(key_for(target), std::move(msg), wait, std::move(done));
  ensure_drainer(target);
}

void Outbox::resume(const std::vector<std::string>& targets) {
  for (const auto& t : targets) ensure_drainer(t);
}

void Outbox::ensure_drainer(const std::string& target) {
  std::lock_guard lock(mu_);
  if (stopped_ || drainers_.count(target)) return;
  auto d = std::make_shared<Drainer>(*this, target);
  drainers_.emplace(target, d);
  boost::asio::post(ex_, [d] { d->start(); });
}

void Outbox::stop() {
  std::map<std::string, std::shared_ptr<Drainer>> all;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    all.swap(drainers_);
  }
  // Drainers live on ex_; stop them there.
  for (auto& [t, d] : all) boost::asio::post(ex_, [d] { d->stop(); });
}

}  // namespace ptp
