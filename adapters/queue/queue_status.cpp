#include "adapters/queue/queue_status.h"

#include <string_view>

namespace ptp::queue_status {

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Status check_key(const QueueKey& k) {
  if (k.node.empty() || k.session.empty() || has_nul(k.node) || has_nul(k.session) ||
      has_nul(k.topic))
    return Status::Error(Code::kBadRequest, "bad queue key (empty node/session or NUL byte)");
  return Status::Ok();
}

Status released(const std::string& session) {
  return Status::Error(Code::kSessionReleased, "session " + session + " was released");
}

Status check_size(uint64_t bytes, const QueueLimits& limits) {
  if (bytes <= limits.max_message_bytes) return Status::Ok();
  return Status::Error(Code::kTooLarge, "message of " + std::to_string(bytes) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(limits.max_message_bytes));
}

bool fits(uint64_t session_bytes, uint64_t session_messages, uint64_t total_bytes, uint64_t charge,
          const QueueLimits& limits) {
  return session_messages < limits.max_session_messages &&
         session_bytes + charge <= limits.max_session_bytes &&
         total_bytes + charge <= limits.max_total_bytes;
}

bool share_fits(uint64_t held, uint64_t charge, uint64_t limit) {
  return limit == 0 || held + charge <= limit;
}

namespace {

// "(N bytes queued + C bytes of this message, limit L<per>)": what a refusal for bytes says.
std::string bytes_over(uint64_t queued, uint64_t charge, uint64_t limit, const char* per) {
  return " (" + std::to_string(queued) + " bytes queued + " + std::to_string(charge) +
         " bytes of this message, limit " + std::to_string(limit) + per + ")";
}

}  // namespace

Status source_full(const std::string& source, uint64_t source_bytes, uint64_t charge,
                   const QueueLimits& limits) {
  return Status::Error(
      Code::kBufferFull,
      "queue store is full for messages of node " + source +
          bytes_over(source_bytes, charge, limits.max_source_bytes, " per source node"));
}

Status target_full(const std::string& target, uint64_t target_bytes, uint64_t charge,
                   const QueueLimits& limits) {
  return Status::Error(
      Code::kBufferFull,
      "queue store is full for messages to node " + target +
          bytes_over(target_bytes, charge, limits.max_target_bytes, " per target node"));
}

Status full(const std::string& session, uint64_t session_bytes, uint64_t session_messages,
            uint64_t total_bytes, uint64_t charge, const QueueLimits& limits) {
  if (session_messages >= limits.max_session_messages)
    return Status::Error(Code::kBufferFull, "queue of session " + session + " is full (" +
                                                std::to_string(session_messages) +
                                                " messages queued, limit " +
                                                std::to_string(limits.max_session_messages) + ")");
  // The session's bytes refuse the message only when it does not fit them; otherwise it
  // is the store's (which may be full while this session holds little).
  if (session_bytes + charge > limits.max_session_bytes)
    return Status::Error(Code::kBufferFull,
                         "queue of session " + session + " is full" +
                             bytes_over(session_bytes, charge, limits.max_session_bytes, ""));
  return Status::Error(
      Code::kBufferFull,
      "queue store is full" + bytes_over(total_bytes, charge, limits.max_total_bytes, ""));
}

Status room(const QueueKey& k, const std::string& source, uint64_t charge,
            const queue_bookkeeping::Session& session, uint64_t total_bytes,
            const queue_bookkeeping::NodeBytes& sources,
            const queue_bookkeeping::NodeBytes& targets, const QueueLimits& limits) {
  if (!fits(session.bytes, session.messages, total_bytes, charge, limits))
    return full(k.session, session.bytes, session.messages, total_bytes, charge, limits);
  if (!source.empty() && !share_fits(sources.of(source), charge, limits.max_source_bytes))
    return source_full(source, sources.of(source), charge, limits);
  if (!share_fits(targets.of(k.node), charge, limits.max_target_bytes))
    return target_full(k.node, targets.of(k.node), charge, limits);
  return Status::Ok();
}

}  // namespace ptp::queue_status
