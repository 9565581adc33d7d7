#include "gateway/outbox.h"

#include <charconv>

#include "gateway/forwarder.h"
#include "gateway/json_log.h"
#include "gateway/pipeline.h"
#include "gateway/queue_service.h"
#include "gateway/route_table.h"
#include "gateway/token.h"
#include "gateway/unix_time.h"

namespace ptp {
namespace {

constexpr int64_t kForwardTokenTtl = 300;

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

LogFields log_fields(const std::string& target, const QueuedMessage& m, const Status& s) {
  LogFields f{.trace_id = m.env.header.trace_id,
              .session_id = m.env.header.session_id,
              .source = m.env.header.source_node_id,
              .target = target};
  f.code = s.code;
  f.hop = s.hop;
  f.extra = {{"message_id", m.message_id}, {"error", s.message}};
  return f;
}

}  // namespace

// Forwards the head message of `target`'s queue as an invoke of ptp/queue/push; the
// drainer calls it one message at a time, so the target sees them in order.
class Outbox::Forward {
 public:
  Forward(Outbox& box, std::string target) : box_(box), target_(std::move(target)) {}

  void operator()(QueuedMessage m, QueueDrainer::Finish finish) {
    using Outcome = QueueDrainer::Outcome;
    if (expired(m, unix_now())) {
      box_.log_.error("outbox message expired undelivered, dropped",
                      log_fields(target_, m, Status::Error(Code::kTimeout, "outbox_ttl_s passed")));
      return finish(Outcome::kDropped);
    }
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
      box_.log_.warn("outbox cannot route, will retry", log_fields(target_, m, why));
      return finish(Outcome::kRetry);
    }
    Forwarder fwd(box_.h2_, box_.h1_, *cfg);
    UpstreamTarget hop = target_for_peer(*route.next_hop, Interface::kInvoke);
    fwd.forward(std::move(req), hop,
                [log = &box_.log_, target = target_, m = std::move(m),
                 finish = std::move(finish)](Response r) {
                  const Status& s = r.env.status;
                  if (s.ok()) return finish(Outcome::kDelivered);
                  if (permanent(s.code)) {
                    log->error("outbox message refused by the target, dropped",
                               log_fields(target, m, s));
                    return finish(Outcome::kDropped);
                  }
                  log->warn("outbox delivery failed, will retry", log_fields(target, m, s));
                  finish(Outcome::kRetry);
                });
  }

 private:
  Outbox& box_;
  std::string target_;
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
  drainers_.emplace(target, QueueDrainer::start(store_, ex_, key_for(target), "outbox to " + target,
                                                config_, log_, Forward(*this, target)));
}

void Outbox::stop() {
  std::map<std::string, std::shared_ptr<QueueDrainer>> all;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    all.swap(drainers_);
  }
  for (auto& [t, d] : all) d->stop();
}

}  // namespace ptp
