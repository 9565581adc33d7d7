#include "gateway/queue/queue_inspect.h"

#include <charconv>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "codecs/queue_codec.h"
#include "gateway/observability/admin_auth.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

// Requests waiting for the worker at most; more answer 503 at once.
constexpr size_t kMaxWaiting = 8;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void bad(AdminRespond& respond, const std::string& why) {
  respond(400, admin_error_json(Code::kBadRequest, why));
}

unsigned http_of(const Status& st) {
  switch (st.code) {
    case Code::kBadRequest:
      return 400;
    case Code::kSessionReleased:
      return 410;
    case Code::kNoInstance:
      return 503;
    default:
      return 500;
  }
}

std::string param(const AdminRequest& req, std::string_view name) {
  return query_param(req.query, name).value_or("");
}

// A count parameter: `def` when absent, within 1..max; nullopt when malformed.
std::optional<size_t> count_param(const AdminRequest& req, std::string_view name, size_t def,
                                  size_t max) {
  const std::string text = param(req, name);
  if (text.empty()) return def;
  size_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v == 0 || v > max) return std::nullopt;
  return v;
}

Json queue_json(const std::string& store, const QueueInfo& q) {
  return {{"store", store},       {"node", q.key.node},      {"session", q.key.session},
          {"topic", q.key.topic}, {"messages", q.messages},  {"bytes", q.bytes},
          {"leased", q.leased},   {"oldest_ms", q.oldest_ms}};
}

Json message_json(const PeekedMessage& p) {
  const Envelope& e = p.msg.env;
  Json meta = Json::object();
  for (const auto& [k, v] : e.meta) meta[k] = v;
  return {{"message_id", p.msg.message_id},
          {"offset", p.msg.offset},
          {"size", e.body.size()},
          {"source", e.header.source_node_id},
          {"target", e.header.target_node_id},
          {"stored_ms", p.stored_ms},
          {"leased", p.leased},
          {"metadata", std::move(meta)},
          {"preview", e.body.substr(0, kInspectPreviewBytes)}};
}

struct Listed {
  Status status;
  std::vector<QueueInfo> queues;
  bool more = false;
};

Listed list_now(QueueStore& store, const QueueFilter& f) {
  std::promise<Listed> answer;
  store.list_queues(f, [&answer](Status st, std::vector<QueueInfo> queues, bool more) {
    answer.set_value({std::move(st), std::move(queues), more});
  });
  return answer.get_future().get();
}

}  // namespace

QueueInspect::QueueInspect(Stores stores, std::string node_id,
                           std::function<std::string()> dead_letter_topic, JsonLog& log)
    : stores_(std::move(stores)),
      node_id_(std::move(node_id)),
      dead_letter_topic_(std::move(dead_letter_topic)),
      log_(log),
      worker_([this] { run(); }) {}

QueueInspect::~QueueInspect() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

QueueStore* QueueInspect::store(const std::string& name) const {
  for (const auto& [n, s] : stores_)
    if (n == name) return s;
  return nullptr;
}

void QueueInspect::post(std::function<void()> work, AdminRespond& respond) {
  {
    std::lock_guard lock(mu_);
    if (!stop_ && work_.size() < kMaxWaiting) {
      work_.emplace_back(std::move(work), respond);
      cv_.notify_one();
      return;
    }
  }
  respond(503, admin_error_json(Code::kNoInstance, "queue inspection is busy; try again"));
}

void QueueInspect::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !work_.empty(); });
    if (stop_) break;
    auto [work, respond] = std::move(work_.front());
    work_.pop_front();
    lock.unlock();
    try {
      work();
    } catch (const std::exception& e) {
      respond(500, admin_error_json(Code::kSystemError, e.what()));
    }
    lock.lock();
  }
  for (auto& [work, respond] : work_)
    respond(503, admin_error_json(Code::kNoInstance, "the gateway is stopping"));
  work_.clear();
}

void QueueInspect::list(AdminRequest req, AdminRespond respond) {
  if (!req.path_rest.empty())
    return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
  const bool dead_letters =
      !param(req, "dead_letters").empty() && param(req, "dead_letters") != "0";
  std::string which = param(req, "store");
  if (dead_letters && which.empty()) which = "inbox";
  if (!which.empty() && !store(which))
    return bad(respond, "store must be inbox or outbox, not '" + which.substr(0, 64) + "'");
  if (dead_letters && which != "inbox")
    return bad(respond, "dead letters are kept in the inbox (store=inbox)");
  const auto limit = count_param(req, "limit", kInspectListDefault, kInspectListMax);
  if (!limit)
    return bad(respond, "limit must be a number from 1 to " + std::to_string(kInspectListMax));
  QueueFilter filter{param(req, "node"), param(req, "session"), param(req, "topic"), *limit};
  if (dead_letters) {
    filter.topic = dead_letter_topic_();
    if (filter.node.empty()) filter.node = node_id_;  // they go to the sender's own node
  }
  Stores chosen;
  for (const auto& s : stores_)
    if (which.empty() || s.first == which) chosen.push_back(s);
  post(
      [chosen, filter, respond]() mutable {
        Json queues = Json::array();
        bool truncated = false;
        Status failed;
        for (const auto& [name, store] : chosen) {
          QueueFilter f = filter;
          if (queues.size() >= filter.limit) {
            f.limit = 1;  // only to learn whether there are more
          } else {
            f.limit = filter.limit - queues.size();
          }
          const bool full = queues.size() >= filter.limit;
          // The worker waits for the store's answer (it may come on a store thread).
          Listed got = list_now(*store, f);
          if (!got.status.ok()) {
            failed = got.status;
          } else if (full) {
            truncated = truncated || !got.queues.empty();
          } else {
            for (const auto& q : got.queues) queues.push_back(queue_json(name, q));
            truncated = truncated || got.more;
          }
          if (!failed.ok()) break;
        }
        if (!failed.ok())
          return respond(http_of(failed), admin_error_json(failed.code, failed.message));
        respond(200, dump({{"queues", std::move(queues)}, {"truncated", truncated}}));
      },
      respond);
}

void QueueInspect::peek(AdminRequest req, AdminRespond respond) {
  if (!req.path_rest.empty())
    return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
  const std::string which = param(req, "store").empty() ? "inbox" : param(req, "store");
  QueueStore* s = store(which);
  if (!s) return bad(respond, "store must be inbox or outbox, not '" + which.substr(0, 64) + "'");
  QueueKey key{param(req, "node"), param(req, "session"), param(req, "topic")};
  if (key.node.empty() && which == "inbox") key.node = node_id_;
  if (key.node.empty())
    return bad(respond, "node is required for the outbox (the target node of its messages)");
  if (key.session.empty() || key.topic.empty())
    return bad(respond, "session and topic are required");
  const auto count = count_param(req, "count", kInspectPeekDefault, kInspectPeekMax);
  if (!count)
    return bad(respond, "count must be a number from 1 to " + std::to_string(kInspectPeekMax));
  post(
      [s, key, n = *count, respond]() mutable {
        std::promise<std::pair<Status, std::vector<PeekedMessage>>> answer;
        s->peek_messages(key, n, [&answer](Status st, std::vector<PeekedMessage> got) {
          answer.set_value({std::move(st), std::move(got)});
        });
        auto [st, got] = answer.get_future().get();
        if (!st.ok()) return respond(http_of(st), admin_error_json(st.code, st.message));
        Json messages = Json::array();
        for (const auto& m : got) messages.push_back(message_json(m));
        respond(200, dump({{"messages", std::move(messages)}}));
      },
      respond);
}

void QueueInspect::purge(AdminRequest req, AdminRespond respond) {
  if (!req.path_rest.empty())
    return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
  const Json body = Json::parse(req.body, nullptr, false);
  auto text = [&](const char* k) -> std::optional<std::string> {
    if (!body.is_object() || !body.contains(k)) return std::string();
    if (!body[k].is_string()) return std::nullopt;
    return body[k].get<std::string>();
  };
  const auto which = text("store"), node = text("node"), session = text("session"),
             topic = text("topic"), confirm = text("confirm");
  if (!body.is_object() || !which || !node || !session || !topic || !confirm)
    return bad(respond,
               "expected a JSON body {\"store\",\"node\",\"session\",\"topic\",\"confirm\"} of "
               "strings");
  const std::string name = which->empty() ? "inbox" : *which;
  QueueStore* s = store(name);
  if (!s) return bad(respond, "store must be inbox or outbox, not '" + name.substr(0, 64) + "'");
  std::string target = *node;
  if (target.empty() && name == "inbox") target = node_id_;
  if (target.empty())
    return bad(respond, "node is required for the outbox (the target node of its messages)");
  if (session->empty()) return bad(respond, "session is required");
  if (*confirm != *session)
    return bad(respond, "confirm must repeat the session id (\"confirm\":\"" +
                            session->substr(0, 128) + "\") to purge it");
  std::optional<std::string> only;
  if (!topic->empty()) only = *topic;
  post(
      [log = &log_, s, name, target, ses = *session, only, respond]() mutable {
        // Answered on the store's thread once the deletes are durable: it may come after
        // this object is gone (shutdown), so the callback holds only what outlives it.
        s->purge(target, ses, only,
                 [log, name, target, ses, only, respond](Status st, uint64_t purged) {
                   if (!st.ok()) return respond(http_of(st), admin_error_json(st.code, st.message));
                   log->warn("queue purged by the operator",
                             {.session_id = ses,
                              .target = target,
                              .extra = {{"store", name},
                                        {"topic", only.value_or("*")},
                                        {"purged", std::to_string(purged)}}});
                   respond(200, dump({{"purged", purged}}));
                 });
      },
      respond);
}

}  // namespace ptp
