#include "gateway/queue/egress_drainer.h"

#include "gateway/observability/json_log.h"

namespace ptp {

EgressDrainer::EgressDrainer(QueueStore& inbox, MessageSink& sink, const std::string& node,
                             boost::asio::any_io_executor ex, ConfigStore& config, JsonLog& log) {
  QueueKey key = queue_of(node);
  auto deliver = [&sink, &log, key](QueuedMessage m, QueueDrainer::Finish finish) {
    LogFields fields{.trace_id = m.env.header.trace_id,
                     .session_id = m.env.header.session_id,
                     .source = m.env.header.source_node_id};
    sink.deliver(key, std::move(m),
                 [&log, fields = std::move(fields), finish = std::move(finish)](Status s) mutable {
                   if (s.ok()) return finish(QueueDrainer::Outcome::kDelivered);
                   fields.extra = {{"error", s.to_string()}};
                   log.error("kafka egress failed, retrying", fields);
                   finish(QueueDrainer::Outcome::kRetry);
                 });
  };
  drainer_ = QueueDrainer::start(inbox, ex, key, "egress of " + node, config, log, deliver);
}

EgressDrainer::~EgressDrainer() { drainer_->stop(); }

}  // namespace ptp
