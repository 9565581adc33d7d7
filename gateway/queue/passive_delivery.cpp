#include "gateway/queue/passive_delivery.h"

#include "gateway/forward/forwarder.h"
#include "gateway/observability/json_log.h"
#include "gateway/queue/outbox.h"
#include "gateway/queue/queue_service.h"
#include "gateway/route/route_path.h"

namespace ptp {
namespace {

// The service's answer as a push back to the sender, on the topic it asked for.
Envelope reply_to(const Config& cfg, const QueuedMessage& m, Response r) {
  const PtpHeader& in = m.env.header;
  Envelope e;
  e.header.version = in.version.empty() ? "1" : in.version;
  e.header.tech_provider_code = in.tech_provider_code;
  e.header.trace_id = in.trace_id;
  e.header.session_id = in.session_id;
  e.header.source_node_id = cfg.node_id;
  e.header.source_inst_id = cfg.inst_id;
  e.header.target_node_id = in.source_node_id;
  e.header.target_inst_id = in.source_inst_id;
  e.content_type = response_content_type(r);
  e.body = std::move(r.env.body);
  e.meta[std::string(kMessageTopicKey)] = m.env.meta.at(std::string(kMessageTopicBackKey));
  e.meta[std::string(kMessageIdKey)] = "reply." + m.message_id;  // a retry is stored once
  return e;
}

}  // namespace

// Invokes the passive service `pattern` with one queued message; the drainer calls it
// one message at a time, so the service sees them in order.
class PassiveDelivery::Invoke {
 public:
  Invoke(PassiveDelivery& pd, std::string pattern) : pd_(pd), pattern_(std::move(pattern)) {}

  void operator()(QueuedMessage m, QueueDrainer::Finish finish) {
    ConfigPtr cfg = pd_.config_.current();
    const LocalServiceConfig* svc = nullptr;
    for (const auto& s : cfg->local_services)
      if (s.passive && s.uri_pattern == pattern_) svc = &s;
    if (!svc) {
      pd_.log_.warn("passive delivery: service no longer configured, holding messages",
                    {.extra = {{"service", pattern_}}});
      return finish(QueueDrainer::Outcome::kRetry);
    }
    Request req;
    req.iface = Interface::kInvoke;
    req.wire = WireProtocol::kHttp1;
    req.env = m.env;
    if (req.env.header.uri.empty()) req.env.header.uri = m.env.meta[std::string(kMessageTopicKey)];
    req.env.meta.erase(std::string(kOutboxExpiryKey));
    req.env.meta.erase(std::string(kRoutePathKey));
    Forwarder fwd(pd_.h2_, pd_.h1_, *cfg);
    fwd.forward(
        std::move(req), target_for_service(*svc),
        [pd = &pd_, pattern = pattern_, m = std::move(m), cfg, finish = std::move(finish)](
            Response r) mutable { on_answer(*pd, pattern, m, std::move(r), *cfg, finish); });
  }

 private:
  static void on_answer(PassiveDelivery& pd, const std::string& pattern, const QueuedMessage& m,
                        Response r, const Config& cfg, const QueueDrainer::Finish& finish) {
    if (!r.env.status.ok()) {
      pd.log_.warn("passive delivery failed, will retry",
                   {.trace_id = m.env.header.trace_id,
                    .session_id = m.env.header.session_id,
                    .source = m.env.header.source_node_id,
                    .code = r.env.status.code,
                    .duration_ms = std::nullopt,
                    .extra = {{"service", pattern}, {"error", r.env.status.message}}});
      return finish(QueueDrainer::Outcome::kRetry);
    }
    // The reply is pushed before the message is removed: after a crash in between, the
    // redelivered message's reply carries the same message id and is stored once.
    if (m.env.meta.count(std::string(kMessageTopicBackKey))) {
      JsonLog* log = &pd.log_;
      pd.queues_.submit(cfg, reply_to(cfg, m, std::move(r)), cfg.queue.default_push_wait,
                        [log, trace = m.env.header.trace_id](Status s, const std::string&) {
                          if (!s.ok())
                            log->error("passive delivery: reply not sent",
                                       {.trace_id = trace, .extra = {{"error", s.to_string()}}});
                        });
    }
    finish(QueueDrainer::Outcome::kDelivered);
  }

  PassiveDelivery& pd_;
  std::string pattern_;
};

PassiveDelivery::PassiveDelivery(QueueStore& inbox, boost::asio::any_io_executor ex,
                                 ConfigStore& config, Metrics& metrics, JsonLog& log,
                                 QueueService& queues)
    : inbox_(inbox),
      ex_(ex),
      config_(config),
      log_(log),
      queues_(queues),
      h2_(ex, &metrics),
      h1_(ex, {.metrics = &metrics}) {}

PassiveDelivery::~PassiveDelivery() = default;

void PassiveDelivery::start() {
  ConfigPtr cfg = config_.current();
  for (const auto& s : cfg->local_services) {
    if (!s.passive) continue;
    deliverers_.push_back(QueueDrainer::start(inbox_, ex_, queue_of(cfg->node_id, s.uri_pattern),
                                              "passive service " + s.uri_pattern, config_, log_,
                                              Invoke(*this, s.uri_pattern)));
  }
}

void PassiveDelivery::stop() {
  for (auto& d : deliverers_) d->stop();
}

}  // namespace ptp
