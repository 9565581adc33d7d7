#include "gateway/queue/outbox.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <boost/asio/post.hpp>
#include <charconv>

#include "common/random_hex.h"
#include "common/token.h"
#include "common/unix_time.h"
#include "gateway/config/peer_root.h"
#include "gateway/evidence/message_records.h"
#include "gateway/evidence/message_signing.h"
#include "gateway/forward/forwarder.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "gateway/queue/dead_letter.h"
#include "gateway/queue/queue_service.h"
#include "gateway/route/route_path.h"
#include "gateway/route/route_table.h"

namespace ptp {
namespace {

constexpr int64_t kForwardTokenTtl = 300;

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

// Forwards one head message of a (target, session) queue as an invoke of
// ptp/queue/push; the lane calls it one message at a time per session, so the target
// sees each session's messages in order.
class Outbox::Forward {
 public:
  using Outcome = OutboxLane::Outcome;
  using Finish = OutboxLane::Finish;

  Forward(Outbox& box, std::string target) : box_(box), target_(std::move(target)) {}

  void operator()(QueuedMessage m, Finish finish) {
    ConfigPtr cfg = box_.config_.current();
    if (expired(m, unix_now()))
      return dead_letter(
          box_, target_, *cfg, std::move(m),
          Status::Error(Code::kTimeout, "not delivered to node " + target_ + " within outbox_ttl_s",
                        cfg->node_id),
          std::move(finish));
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
    // A fresh token (the container's may have expired while the message waited): this
    // node's s1 token to a signature-mode target, a v1 token from this node's key to an
    // hmac one; a passthrough target gets the container's token as it is.
    const AuthMode mode = auth_mode_for(*cfg, target_);
    if (mode == AuthMode::kSignature) {
      if (Status st = box_.source_tokens_.apply(*cfg, req.env.header, unix_now()); !st.ok()) {
        box_.log_.error("outbox cannot sign the forward, will retry", log_fields(target_, m, st));
        return finish(Outcome::kRetry);
      }
    } else if (mode != AuthMode::kPassthrough) {
      if (auto k = cfg->auth.node_keys.find(cfg->node_id); k != cfg->auth.node_keys.end())
        req.env.header.token =
            mint_token(k->second, cfg->node_id, target_, req.env.header.session_id,
                       unix_now() + kForwardTokenTtl, cfg->auth.token_mac);
    }
    if (box_.forward_hook_) box_.forward_hook_(req.env);
    RouteDecision route = resolve_route(*cfg, req.env.header);
    if (route.kind != RouteDecision::Kind::kPeer) {
      Status why = route.kind == RouteDecision::Kind::kError
                       ? route.error
                       : Status::Error(Code::kNotPeered, "no peer route");
      box_.log_.warn("outbox cannot route, will retry", log_fields(target_, m, why));
      return finish(Outcome::kRetry);
    }
    UpstreamTarget hop = target_for_peer(*route.next_hop, Interface::kInvoke);
    if (!evidence_signing(*cfg))
      return send(cfg, std::move(req), hop, std::move(m), {}, std::move(finish));
    // Signed like an invoke of this node's own (docs/evidence.md); the receipt is checked
    // and kept once the target acknowledged the push.
    if (!evidence_accepting(box_.records_, cfg->evidence)) {
      box_.log_.warn("outbox: the evidence log cannot take records, will retry",
                     log_fields(target_, m, Status::Error(Code::kBufferFull, "evidence log full")));
      return finish(Outcome::kRetry);
    }
    auto out = std::make_shared<Signing>(
        Signing{std::move(req), std::move(hop), std::move(m), std::move(finish), {}, {}});
    out->fields =
        message_fields(box_.signing_.hasher(*cfg), out->req.env, Interface::kInvoke, unix_now_ms());
    out->leaf = message_leaf(box_.signing_.hasher(*cfg), out->fields);
    box_.signing_.sign_message(
        *cfg, out->leaf, out->fields.sent_ms, [this, cfg, out](std::string v) {
          if (v.empty()) {
            box_.log_.error(
                "outbox cannot sign the message (node key), will retry",
                log_fields(target_, out->m, Status::Error(Code::kSystemError, "signing failed")));
            return out->finish(Outcome::kRetry);
          }
          if (!record_sent(box_.records_, out->fields, out->leaf, v) &&
              cfg->evidence.on_failure == EvidenceOnFailure::kRefuse)
            return out->finish(Outcome::kRetry);
          out->req.env.meta[std::string(kSignatureHeader)] = std::move(v);
          send(cfg, std::move(out->req), out->hop, std::move(out->m), out->leaf,
               std::move(out->finish));
        });
  }

 private:
  struct Signing {
    Request req;
    UpstreamTarget hop;
    QueuedMessage m;
    Finish finish;
    MessageFields fields;
    Digest32 leaf;
  };

  // Forwards the push; `leaf`: the signed message's leaf (all zero: not signed).
  void send(const ConfigPtr& cfg, Request&& req, const UpstreamTarget& hop, QueuedMessage m,
            const Digest32& leaf, Finish finish) {
    Forwarder fwd(box_.h2_, box_.h1_, *cfg);
    fwd.forward(std::move(req), hop,
                [box = &box_, target = target_, cfg, m = std::move(m), leaf,
                 finish = std::move(finish)](Response r) mutable {
                  const Status& s = r.env.status;
                  if (s.ok()) {
                    if (leaf != Digest32{}) box->check_receipt(cfg, target, m, leaf, r);
                    return finish(Outcome::kDelivered);
                  }
                  if (refused_for_good(s.code))
                    return dead_letter(*box, target, *cfg, std::move(m), s, std::move(finish));
                  box->log_.warn("outbox delivery failed, will retry", log_fields(target, m, s));
                  finish(Outcome::kRetry);
                });
  }

 private:
  // Stores the dead letter of `m`; only then does `m` leave the outbox (a crash in
  // between refuses it once more, and the dead letter, by the same id, is stored once).
  static void dead_letter(Outbox& box, const std::string& target, const Config& cfg,
                          QueuedMessage m, Status why, Finish finish) {
    box.log_.error("outbox message not deliverable, dead-lettered to the sender",
                   log_fields(target, m, why));
    if (!box.dead_letters_) return finish(Outcome::kRetry);
    Envelope e = dead_letter_of(cfg, m, target, why);
    box.dead_letters_(
        std::move(e), [log = &box.log_, count = &box.dead_letter_count_, target, code = why.code,
                       m = std::move(m), finish = std::move(finish)](Status s) {
          if (s.ok()) {
            count->Add({{"code", code_string(code)}}).Increment();
            return finish(Outcome::kDropped);
          }
          if (refused_for_good(s.code)) {  // e.g. the sender released its session meanwhile
            log->error("dead letter refused by this node's inbox, message dropped",
                       log_fields(target, m, s));
            return finish(Outcome::kDropped);
          }
          log->warn("dead letter not stored, will retry", log_fields(target, m, s));
          finish(Outcome::kRetry);
        });
  }

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
      h1_(ex, {.metrics = &metrics}),
      signing_(ex),
      dead_letter_count_(prometheus::BuildCounter()
                             .Name("ptp_outbox_dead_letters_total")
                             .Help("Outbox messages put back to their sender as dead letters")
                             .Register(metrics.registry())) {}

Outbox::~Outbox() = default;

void Outbox::set_evidence_log(EvidenceLog* log) {
  records_ = log;
  // A receipt that refers to its batch's statement (v3) is recorded with that statement, once.
  signing_.record_statements_in(log);
}

void Outbox::check_receipt(const ConfigPtr& cfg, const std::string& target, const QueuedMessage& m,
                           const Digest32& leaf, const Response& r) {
  std::string_view receipt = find_header(r.extra_headers, kReceiptHeader);
  Status st = Status::Error(Code::kBadCertSignature,
                            "node " + target + " acknowledged the push without x-ptp-receipt");
  std::string full_receipt;  // a full proof, while the receipt's statement is not recorded
  if (!receipt.empty()) {
    std::string error;
    st = signing_.verify_receipt(*cfg, leaf, target, receipt, root_keys_.find(cfg, target, error),
                                 find_header(r.extra_headers, kReceiptStatementHeader),
                                 &full_receipt);
    if (!full_receipt.empty()) receipt = full_receipt;
  }
  uint64_t suppressed = 0;
  if (!st.ok() && log_.enabled(LogLevel::kWarn) && receipt_log_.allow(suppressed)) {
    LogFields lf = log_fields(target, m, st);
    lf.extra.emplace_back("suppressed", std::to_string(suppressed));
    log_.warn("outbox receipt does not verify", lf);
  }
  if (!receipt.empty())
    record_receipt(records_, leaf, target, code_string(r.env.status.code), receipt, {});
}

void Outbox::push(const std::string& target, QueuedMessage msg, std::chrono::milliseconds wait,
                  QueueStore::Done done) {
  const std::string session = msg.env.header.session_id;
  // The lane is looked up now: the store may answer after the outbox stopped.
  store_.push(key_for(target, session), std::move(msg), wait,
              [l = lane(target), session, done = std::move(done)](Status s) {
                if (s.ok() && l) l->notify(session);
                done(std::move(s));
              });
}

void Outbox::resume(const std::vector<std::string>& targets) {
  for (const auto& t : targets) {
    auto l = lane(t);
    if (!l) return;
    store_.queues_of(t, [l, log = &log_, t](Status s, std::vector<QueueKey> keys) {
      if (!s.ok())
        return log->error(
            "outbox: cannot list the queues of a target; they resume at its next push",
            {.target = t, .extra = {{"error", s.to_string()}}});
      for (const QueueKey& k : keys) l->notify(k.session);
    });
  }
}

std::shared_ptr<OutboxLane> Outbox::lane(const std::string& target) {
  std::lock_guard lock(mu_);
  if (stopped_) return nullptr;
  auto& l = lanes_[target];
  if (!l)
    l = std::make_shared<OutboxLane>(store_, ex_, target, config_, log_, Forward(*this, target));
  return l;
}

void Outbox::next_hop_moved(std::optional<Endpoint> down, std::string why) {
  boost::asio::post(ex_, [this, down = std::move(down), why = std::move(why)] {
    if (down) h2_.close(*down, why);
    std::vector<std::shared_ptr<OutboxLane>> all;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      for (auto& [t, l] : lanes_) all.push_back(l);
    }
    for (auto& l : all) l->retry_now();
  });
}

void Outbox::stop() {
  std::map<std::string, std::shared_ptr<OutboxLane>> all;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    all.swap(lanes_);
  }
  for (auto& [t, l] : all) l->stop();
}

}  // namespace ptp
