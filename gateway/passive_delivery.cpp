#include "gateway/passive_delivery.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/forwarder.h"
#include "gateway/json_log.h"
#include "gateway/outbox.h"
#include "gateway/pipeline.h"
#include "gateway/queue_service.h"

namespace ptp {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kPopWait{30000};

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
  e.content_type = r.env.content_type;
  e.body = std::move(r.env.body);
  e.meta[std::string(kMessageTopicKey)] = m.env.meta.at(std::string(kMessageTopicBackKey));
  e.meta[std::string(kMessageIdKey)] = "reply." + m.message_id;  // a retry is stored once
  return e;
}

}  // namespace

class PassiveDelivery::Deliverer : public std::enable_shared_from_this<Deliverer> {
 public:
  Deliverer(PassiveDelivery& pd, std::string pattern, std::string node)
      : pd_(pd),
        store_(pd.inbox_),
        ex_(pd.ex_),
        pattern_(std::move(pattern)),
        key_(queue_of(node, pattern_)),
        timer_(pd.ex_) {}

  void start() { next(); }
  void stop() {
    stopped_ = true;
    timer_.cancel();
    if (ticket_) pd_.inbox_.cancel_pop(*ticket_);
  }

 private:
  void next() {
    if (stopped_) return;
    auto self = shared_from_this();
    // The store may answer after PassiveDelivery is gone (shutdown): touch only what the
    // deliverer owns until the handler runs on ex_ (which then has stopped running).
    ticket_ = store_.pop(key_, kPopWait, [self](Status s, std::optional<QueuedMessage> m) {
      boost::asio::post(self->ex_, [self, s = std::move(s), m = std::move(m)]() mutable {
        self->on_popped(std::move(s), std::move(m));
      });
    });
  }

  void on_popped(Status s, std::optional<QueuedMessage> m) {
    ticket_.reset();
    if (stopped_) {
      if (m) pd_.inbox_.nack(key_, m->offset);
      return;
    }
    if (!s.ok()) {
      pd_.log_.error("passive delivery: queue read failed",
                     {.extra = {{"service", pattern_}, {"error", s.to_string()}}});
      return retry_later();
    }
    if (!m) return next();
    deliver(std::move(*m));
  }

  void deliver(QueuedMessage m) {
    ConfigPtr cfg = pd_.config_.current();
    const LocalServiceConfig* svc = nullptr;
    for (const auto& s : cfg->local_services)
      if (s.passive && s.uri_pattern == pattern_) svc = &s;
    if (!svc) {
      pd_.log_.warn("passive delivery: service no longer configured, holding messages",
                    {.extra = {{"service", pattern_}}});
      pd_.inbox_.nack(key_, m.offset);
      return retry_later();
    }
    Request req;
    req.iface = Interface::kInvoke;
    req.wire = WireProtocol::kHttp1;
    req.env = m.env;
    if (req.env.header.uri.empty()) req.env.header.uri = m.env.meta[std::string(kMessageTopicKey)];
    req.env.meta.erase(std::string(kOutboxExpiryKey));
    req.env.meta.erase(std::string(kRoutePathKey));
    Forwarder fwd(pd_.h2_, pd_.h1_, *cfg);
    auto self = shared_from_this();
    fwd.forward(std::move(req), target_for_service(*svc),
                [self, m = std::move(m), cfg](Response r) mutable {
                  self->on_delivered(std::move(m), std::move(r), *cfg);
                });
  }

  void on_delivered(QueuedMessage m, Response r, const Config& cfg) {
    if (!r.env.status.ok()) {
      pd_.log_.warn("passive delivery failed, will retry",
                    {.trace_id = m.env.header.trace_id,
                     .session_id = m.env.header.session_id,
                     .source = m.env.header.source_node_id,
                     .code = r.env.status.code,
                     .duration_ms = std::nullopt,
                     .extra = {{"service", pattern_}, {"error", r.env.status.message}}});
      pd_.inbox_.nack(key_, m.offset);
      return retry_later(&cfg);
    }
    pd_.inbox_.ack(key_, m.offset);
    backoff_ = milliseconds(0);
    if (m.env.meta.count(std::string(kMessageTopicBackKey))) {
      JsonLog* log = &pd_.log_;
      pd_.queues_.submit(cfg, reply_to(cfg, m, std::move(r)), cfg.queue.default_push_wait,
                         [log, trace = m.env.header.trace_id](Status s, const std::string&) {
                           if (!s.ok())
                             log->error("passive delivery: reply not sent",
                                        {.trace_id = trace, .extra = {{"error", s.to_string()}}});
                         });
    }
    next();
  }

  void retry_later(const Config* cfg = nullptr) {
    if (stopped_) return;
    ConfigPtr current;
    if (!cfg) {
      current = pd_.config_.current();
      cfg = current.get();
    }
    backoff_ =
        backoff_.count() == 0 ? cfg->queue.retry_min : std::min(backoff_ * 2, cfg->queue.retry_max);
    timer_.expires_after(backoff_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->next();
    });
  }

  PassiveDelivery& pd_;
  QueueStore& store_;
  boost::asio::any_io_executor ex_;
  std::string pattern_;
  QueueKey key_;
  boost::asio::steady_timer timer_;
  milliseconds backoff_{0};
  std::optional<uint64_t> ticket_;
  bool stopped_ = false;
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
      h1_(ex) {}

PassiveDelivery::~PassiveDelivery() = default;

void PassiveDelivery::start() {
  ConfigPtr cfg = config_.current();
  for (const auto& s : cfg->local_services) {
    if (!s.passive) continue;
    auto d = std::make_shared<Deliverer>(*this, s.uri_pattern, cfg->node_id);
    deliverers_.push_back(d);
    boost::asio::post(ex_, [d] { d->start(); });
  }
}

void PassiveDelivery::stop() {
  for (auto& d : deliverers_) boost::asio::post(ex_, [d] { d->stop(); });
}

}  // namespace ptp
