#include "gateway/queue/queue_service.h"

#include <boost/asio/post.hpp>

#include "adapters/queue/key_parts.h"
#include "codecs/header_codec.h"
#include "codecs/queue_codec.h"
#include "common/glob.h"
#include "common/random_hex.h"
#include "common/unix_time.h"
#include "gateway/queue/egress_drainer.h"
#include "gateway/queue/outbox.h"
#include "gateway/queue/passive_delivery.h"
#include "gateway/queue/queue_metadata.h"
#include "gateway/route/route_table.h"

namespace ptp {
namespace {

using std::chrono::milliseconds;

// How a queue interface answers on the caller's wire: gRPC gets a TransportOutbound
// message (or an error status), HTTP the body in the request's format.
struct ReplyShape {
  QueueBodyFormat fmt;
  QueueDialect dialect;
  bool grpc;
};

Response make_response(const ReplyShape& shape, QueueReply reply) {
  Response r;
  EncodedQueueReply enc = encode_queue_reply(shape.fmt, shape.dialect, reply);
  if (reply.message && !headers_writable(enc.headers)) {
    // Metadata stored before push checked it: never written as a header. The error
    // answer carries no delivery receipt, so the message stays in its queue.
    reply = {Status::Error(Code::kCodecError,
                           "the message's metadata cannot be written as HTTP headers; pop it "
                           "with a JSON or protobuf body"),
             {}};
    enc = encode_queue_reply(shape.fmt, shape.dialect, reply);
  }
  r.env.status = reply.status;
  r.extra_headers = std::move(enc.headers);
  if (shape.grpc) {
    if (reply.status.ok()) r.grpc_message = std::move(enc.body);
    return r;
  }
  r.env.body = std::move(enc.body);
  r.extra_headers.emplace_back("content-type", enc.content_type);
  return r;
}

// Runs `fn` on the request's I/O thread (store callbacks come from store threads).
template <class Fn>
void on_executor(const boost::asio::any_io_executor& ex, Fn fn) {
  boost::asio::post(ex, std::move(fn));
}

// Topics and message ids become parts of store keys: bounded, no control characters.
Status check_name(std::string_view what, std::string_view v, size_t max_len) {
  if (v.size() > max_len)
    return Status::Error(Code::kBadRequest,
                         std::string(what) + " longer than " + std::to_string(max_len) + " bytes");
  for (char ch : v)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
      return Status::Error(Code::kBadRequest, std::string(what) + " contains a control character");
  return Status::Ok();
}

// A message as the container sees it on pop/peek: its offset in the metadata.
Envelope delivered_view(QueuedMessage m) {
  Envelope e = std::move(m.env);
  e.meta[std::string(kMessageOffsetKey)] = std::to_string(m.offset);
  e.header.token.clear();  // a bearer credential of the sender; not for the receiver
  return e;
}

}  // namespace

std::string new_message_id() { return random_hex(16); }

void QueueService::handle(const Config& cfg, Request req, Responder done,
                          boost::asio::any_io_executor ex) {
  ReplyShape shape{queue_body_format(req.env.content_type, req.wire == WireProtocol::kGrpc),
                   queue_dialect(cfg.queue, req.env.header.tech_provider_code),
                   req.wire == WireProtocol::kGrpc};
  QueueRequest q;
  Status st = decode_queue_request(req.iface, shape.fmt, shape.dialect, req.env.body, req.query,
                                   req.env, q);
  if (st.ok() && req.iface == Interface::kPush) {
    st = check_message_metadata(q.metadata, cfg.limits.max_field_length);
    if (st.ok() && req.env.meta.count(std::string(kMessageMetadataHeader)))
      st = Status::Error(Code::kBadRequest,
                         "header " + std::string(kMessageMetadataHeader) + " is reserved");
  }
  if (st.ok()) st = check_name("topic", q.topic, cfg.limits.max_field_length);
  if (st.ok())
    if (auto it = q.metadata.find(std::string(kMessageIdKey)); it != q.metadata.end())
      st = check_name("message-id", it->second, cfg.limits.max_field_length);
  if (!st.ok()) return done(make_response(shape, {std::move(st), {}}));
  const auto& h = req.env.header;
  QueueKey key{cfg.node_id, h.session_id, q.topic};
  // Answers on the I/O thread; the store may call back on its own threads.
  auto answer = [ex, done, shape](QueueReply reply, std::shared_ptr<DeliveryReceipt> receipt) {
    on_executor(ex,
                [done, shape, reply = std::move(reply), receipt = std::move(receipt)]() mutable {
                  Response r = make_response(shape, std::move(reply));
                  // Not delivered (an answer that could not carry the message): the
                  // receipt settles as such when it goes, and the message is popped again.
                  if (r.env.status.ok()) r.delivery = std::move(receipt);
                  done(std::move(r));
                });
  };
  Interface iface = req.iface;
  if (iface == Interface::kPeek && shape.dialect.peek_removes) iface = Interface::kPop;
  switch (iface) {
    case Interface::kPush: {
      req.env.body = std::move(q.payload);
      for (auto& [k, v] : q.metadata) req.env.meta.try_emplace(k, v);
      req.env.meta[std::string(kMessageTopicKey)] = q.topic;
      if (q.timeout) req.env.meta["timeout"] = std::to_string(q.timeout->count()) + "ms";
      return push(cfg, std::move(req), std::move(done), ex);
    }
    case Interface::kPop: {
      milliseconds timeout = req.iface == Interface::kPeek
                                 ? milliseconds(0)
                                 : q.timeout.value_or(cfg.queue.default_pop_timeout);
      bool draining = false;
      const uint64_t wait_id = waiting_pops_.begin(draining);
      if (draining) timeout = milliseconds(0);  // shutting down: answer at once
      QueueStore* store = &inbox_;
      WaitingPops* waiting = &waiting_pops_;
      const uint64_t ticket = inbox_.pop(
          key, timeout,
          [answer, key, store, waiting, wait_id](Status s, std::optional<QueuedMessage> m) mutable {
            waiting->answered(wait_id);
            if (!m) return answer({std::move(s), {}}, nullptr);
            const uint64_t offset = m->offset;
            // Acknowledged only once the response reached the client's connection.
            auto receipt = std::make_shared<DeliveryReceipt>([store, key, offset](bool delivered) {
              if (delivered)
                store->ack(key, offset);
              else
                store->nack(key, offset);
            });
            answer({std::move(s), delivered_view(std::move(*m))}, std::move(receipt));
          });
      waiting_pops_.started(wait_id, ticket);
      return;
    }
    case Interface::kPeek:
      inbox_.peek(key, [answer](Status s, std::optional<QueuedMessage> m) {
        std::optional<Envelope> e;
        if (m) e = delivered_view(std::move(*m));
        answer({std::move(s), std::move(e)}, nullptr);
      });
      return;
    case Interface::kRelease: {
      std::optional<std::string> topic;
      if (!q.topic.empty()) topic = q.topic;
      inbox_.release(cfg.node_id, h.session_id, topic, [answer](Status s) {
        answer({std::move(s), {}}, nullptr);
      });
      return;
    }
    default:
      return done(
          make_response(shape, {Status::Error(Code::kNotPermitted, "not a queue interface"), {}}));
  }
}

void QueueService::push(const Config& cfg, Request req, Responder done,
                        boost::asio::any_io_executor ex) {
  ReplyShape shape{queue_body_format(req.env.content_type, req.wire == WireProtocol::kGrpc),
                   queue_dialect(cfg.queue, req.env.header.tech_provider_code),
                   req.wire == WireProtocol::kGrpc};
  milliseconds wait = cfg.queue.default_push_wait;
  if (auto it = req.env.meta.find("timeout"); it != req.env.meta.end())
    if (auto t = parse_timeout(it->second, shape.dialect.timeout_unit)) wait = *t;
  req.env.meta.erase("timeout");
  submit(cfg, std::move(req.env), wait, [ex, done, shape](Status s, const std::string& id) {
    on_executor(ex, [done, shape, s = std::move(s), id]() mutable {
      Response r = make_response(shape, {std::move(s), {}});
      if (!id.empty()) r.extra_headers.emplace_back("x-ptp-message-id", id);
      done(std::move(r));
    });
  });
}

void QueueService::store_local(const Config& cfg, const QueueKey& key, QueuedMessage msg,
                               milliseconds wait, QueueStore::Done done) {
  // Where a message for this node waits: for a passive local service, for the attached
  // platform's egress topic, or for pops.
  QueueKey where = key;
  if (to_egress_) where = EgressDrainer::queue_of(key.node);
  for (const LocalServiceConfig& svc : cfg.local_services)
    if (svc.passive && glob_match(svc.uri_pattern, key.topic)) {
      where = PassiveDelivery::queue_of(key.node, svc.uri_pattern);
      break;
    }
  if (where != key || !on_local_stored_)
    return inbox_.push(where, std::move(msg), wait, std::move(done));
  inbox_.push(key, std::move(msg), wait, [this, key, done = std::move(done)](Status s) {
    if (s.ok()) on_local_stored_(key);
    done(std::move(s));
  });
}

void QueueService::invoke_async(ConfigPtr cfg, Request req, milliseconds timeout, Responder done,
                                boost::asio::any_io_executor ex) {
  if (req.stream)
    return done(error_response(Status::Error(
        Code::kNotPermitted, "node " + req.env.header.target_node_id +
                                 " is reachable only asynchronously: streamed transport is not "
                                 "possible, use invoke")));
  auto answer = [ex, done](Response r) {
    on_executor(ex, [done, r = std::move(r)]() mutable { done(std::move(r)); });
  };
  // The reply topic is picked first: this gateway pops it, so it must serve its queue.
  const std::string node = cfg->node_id, session = req.env.header.session_id;
  inbox_.served_topic(node, session, "reply." + new_message_id(),
                      [this, cfg, env = std::make_shared<Envelope>(std::move(req.env)), timeout,
                       answer](Status s, std::string reply_topic) {
                        if (!s.ok()) return answer(error_response(std::move(s)));
                        push_and_await_reply(*cfg, std::move(*env), std::move(reply_topic), timeout,
                                             answer);
                      });
}

void QueueService::push_and_await_reply(const Config& cfg, Envelope env, std::string reply_topic,
                                        milliseconds timeout, Responder answer) {
  env.meta[std::string(kMessageTopicKey)] = env.header.uri.empty() ? "invoke" : env.header.uri;
  env.meta[std::string(kMessageTopicBackKey)] = reply_topic;
  env.meta.erase(std::string(kMessageIdKey));  // a fresh id per invoke
  const QueueKey reply{cfg.node_id, env.header.session_id, std::move(reply_topic)};
  QueueStore* inbox = &inbox_;
  const std::string target = env.header.target_node_id;
  submit(cfg, std::move(env), cfg.queue.default_push_wait,
         [inbox, reply, timeout, answer, target](Status s, const std::string&) {
           if (!s.ok()) return answer(error_response(std::move(s)));
           inbox->pop(
               reply, timeout,
               [inbox, reply, timeout, answer, target](Status ps, std::optional<QueuedMessage> m) {
                 if (!ps.ok()) return answer(error_response(std::move(ps)));
                 if (!m)
                   return answer(error_response(Status::Error(
                       Code::kTimeout, "no reply from node " + target + " on " + reply.topic +
                                           " within " + std::to_string(timeout.count()) + " ms")));
                 inbox->ack(reply, m->offset);
                 Response r;
                 r.env = std::move(m->env);
                 r.env.header.token.clear();
                 r.env.status = Status::Ok();
                 // The replying service's content type, as a relayed answer carries it.
                 if (!r.env.content_type.empty())
                   r.extra_headers.emplace_back("content-type", r.env.content_type);
                 answer(std::move(r));
               });
         });
}

void QueueService::submit(const Config& cfg, Envelope env, milliseconds wait, Submitted done) {
  if (env.body.size() > cfg.queue.limits.max_message_bytes)
    return done(
        Status::Error(Code::kTooLarge, "message of " + std::to_string(env.body.size()) +
                                           " bytes exceeds queue.limits.max_message_bytes " +
                                           std::to_string(cfg.queue.limits.max_message_bytes)),
        "");
  const std::string topic = env.meta[std::string(kMessageTopicKey)];
  std::string& id_ref = env.meta[std::string(kMessageIdKey)];
  if (id_ref.empty()) id_ref = new_message_id();
  const std::string id = id_ref;
  for (auto [what, v] : {std::pair{"topic", &topic}, std::pair{"message-id", &id}})
    if (Status st = check_name(what, *v, cfg.limits.max_field_length); !st.ok())
      return done(std::move(st), "");
  auto answer = [done, id](Status s) { done(std::move(s), id); };
  QueuedMessage msg;
  msg.env = std::move(env);
  const std::string target = msg.env.header.target_node_id;
  if (target == cfg.node_id) {
    msg.message_id = msg.env.header.source_node_id + "/" + id;
    QueueKey key{cfg.node_id, msg.env.header.session_id, topic};
    return store_local(cfg, key, std::move(msg), wait, std::move(answer));
  }
  // A remote target: it must be routable now (a typo'd node fails fast), then the outbox
  // owns the message until the target's gateway has stored it.
  RouteDecision route = resolve_route(cfg, msg.env.header);
  if (route.kind != RouteDecision::Kind::kPeer) {
    Status err = route.kind == RouteDecision::Kind::kError
                     ? route.error
                     : Status::Error(Code::kNotPeered, "no peer route to node " + target);
    return done(std::move(err), "");
  }
  if (!outbox_)
    return done(Status::Error(Code::kNotPermitted, "pushes to other nodes are not enabled"), "");
  // Topics and ids may hold '/': length-prefixed parts keep every (session, topic, id) apart.
  msg.message_id = join_key_parts({msg.env.header.session_id, topic, id});
  pack_message_metadata(msg.env.meta);
  msg.env.meta[std::string(kOutboxExpiryKey)] =
      std::to_string(unix_now() + cfg.queue.outbox_ttl.count());
  outbox_->push(target, std::move(msg), wait, std::move(answer));
}

void QueueService::accept_remote(const Config& cfg, Request req, Responder done,
                                 boost::asio::any_io_executor ex) {
  auto fail = [&](Code c, std::string m) { done(error_response(Status::Error(c, std::move(m)))); };
  if (req.stream) return fail(Code::kNotPermitted, "queued messages travel as unary invokes");
  auto topic = req.env.meta.find(std::string(kMessageTopicKey));
  auto id = req.env.meta.find(std::string(kMessageIdKey));
  if (topic == req.env.meta.end() || topic->second.empty())
    return fail(Code::kBadRequest, "queued message without message-topic");
  if (id == req.env.meta.end() || id->second.empty())
    return fail(Code::kBadRequest, "queued message without message-id");
  if (req.env.body.size() > cfg.queue.limits.max_message_bytes)
    return fail(Code::kTooLarge,
                "message exceeds queue.limits.max_message_bytes of node " + cfg.node_id);
  QueuedMessage msg;
  msg.message_id = req.env.header.source_node_id + "/" + id->second;
  QueueKey key{cfg.node_id, req.env.header.session_id, topic->second};
  msg.env = std::move(req.env);
  msg.env.header.uri.clear();
  msg.env.meta.erase(std::string(kOutboxExpiryKey));
  msg.env.meta.erase("x-ptp-route-path");
  if (Status s = unpack_message_metadata(msg.env.meta, cfg.limits.max_field_length); !s.ok())
    return done(error_response(std::move(s)));
  // A full session answers 700 at once, without waiting for space: the sender retries
  // with its backoff, and a forward slot of its outbox is not held by a full session.
  store_local(cfg, key, std::move(msg), milliseconds(0), [ex, done](Status s) {
    on_executor(ex, [done, s = std::move(s)]() mutable {
      Response r;
      r.env.status = std::move(s);
      done(std::move(r));
    });
  });
}

}  // namespace ptp
