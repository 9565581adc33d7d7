// ptpctl queues list|peek|purge|dead-letters (docs/ptpctl.md): a serving gateway's queues
// over the admin port (GET /queues/list, GET /queues/peek, POST /queues/purge; all with
// the operator credential).
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;

// Dead-letter queues peeked at most by `queues dead-letters` (the list says when more).
constexpr size_t kDeadLetterQueues = 50;

std::string text(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string number(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].dump() : "-";
}

long long millis(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<long long>()
                                                                        : 0;
}

// Printable ASCII only: anything else shows as '.'.
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '.';
  return out;
}

// The answer as JSON (an object), or nullopt after printing why not.
std::optional<Json> parsed(const AdminResponse& r, const std::string& what) {
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_object()) return j;
  std::cerr << "ptpctl: unexpected answer of " << what << "\n";
  return std::nullopt;
}

std::string list_target(const Options& o, const std::string& session, const std::string& topic) {
  return "/queues/list" + query_string({{"store", o.get("store").value_or("")},
                                        {"node", o.get("node").value_or("")},
                                        {"session", session},
                                        {"topic", topic}});
}

std::string queues_table(const Json& queues) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& q : queues)
    rows.push_back({text(q, "store"), text(q, "node"), text(q, "session"), text(q, "topic"),
                    number(q, "messages"), number(q, "bytes"), number(q, "leased"),
                    age_text(millis(q, "oldest_ms"))});
  return table({{"store", 6},
                {"node", 12},
                {"session", 20},
                {"topic", 20},
                {"messages", 8},
                {"bytes", 10},
                {"leased", 6},
                {"oldest", 9}},
               rows);
}

int list(const Options& o) {
  if (o.words.size() != 2)
    throw UsageError("queues list takes no arguments (--store, --node, ...)");
  const AdminClient client(o);
  const AdminResponse r = client.request(
      "GET", list_target(o, o.get("session").value_or(""), o.get("topic").value_or("")));
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const auto j = parsed(r, "GET /queues/list");
  if (!j) return kExitFailed;
  const Json& queues = (*j)["queues"];
  if (!queues.is_array() || queues.empty()) {
    std::cout << "no queued messages\n";
    return kExitOk;
  }
  std::cout << queues_table(queues);
  if (j->value("truncated", false))
    std::cout << "(more queues than listed: narrow with --node, --session or --topic)\n";
  return kExitOk;
}

int peek(const Options& o) {
  if (o.words.size() != 4) throw UsageError("queues peek takes two arguments: SESSION TOPIC");
  const std::string target =
      "/queues/peek" + query_string({{"store", o.get("store").value_or("")},
                                     {"node", o.get("node").value_or("")},
                                     {"session", o.words[2]},
                                     {"topic", o.words[3]},
                                     {"count", o.get("count").value_or("")}});
  const AdminClient client(o);
  const AdminResponse r = client.request("GET", target);
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const auto j = parsed(r, "GET /queues/peek");
  if (!j) return kExitFailed;
  const Json& messages = (*j)["messages"];
  if (!messages.is_array() || messages.empty()) {
    std::cout << "no messages in topic " << o.words[3] << " of session " << o.words[2] << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Json& m : messages)
    rows.push_back({number(m, "offset"), text(m, "message_id"), number(m, "size"),
                    text(m, "source"), age_text(millis(m, "stored_ms")),
                    m.value("leased", false) ? "yes" : "no", printable(text(m, "preview"))});
  std::cout << table({{"offset", 7},
                      {"message id", 34},
                      {"size", 7},
                      {"source", 8},
                      {"age", 8},
                      {"leased", 6},
                      {"preview", 23}},
                     rows);
  return kExitOk;
}

int purge(const Options& o) {
  if (o.words.size() != 3 && o.words.size() != 4)
    throw UsageError("queues purge takes SESSION [TOPIC]");
  const std::string session = o.words[2];
  const std::string topic = o.words.size() == 4 ? o.words[3] : "";
  const std::string what = (topic.empty() ? "every topic of session " + session
                                          : "topic " + topic + " of session " + session) +
                           " in the " + o.get("store").value_or("inbox");
  const AdminClient client(o);
  if (!o.yes) {
    // What would go, then the session id typed on a terminal as the confirmation.
    const AdminResponse r = client.request("GET", list_target(o, session, topic));
    if (!r.ok()) return report_failure(r);
    const auto j = parsed(r, "GET /queues/list");
    if (!j) return kExitFailed;
    const Json& queues = (*j)["queues"];
    if (queues.is_array() && !queues.empty())
      std::cerr << "would purge " << what << ":\n" << queues_table(queues);
    else
      std::cerr << "nothing queued in " << what << " now\n";
    if (!isatty(STDIN_FILENO)) {
      std::cerr << "ptpctl: not a terminal: pass --yes to purge " << what << "\n";
      return kExitUsage;
    }
    std::cerr << "type the session id (" << session << ") to purge it: " << std::flush;
    std::string typed;
    std::getline(std::cin, typed);
    if (typed != session) {
      std::cerr << "ptpctl: not confirmed, nothing purged\n";
      return kExitFailed;
    }
  }
  Json body = {{"session", session}, {"confirm", session}};
  if (auto s = o.get("store")) body["store"] = *s;
  if (auto n = o.get("node")) body["node"] = *n;
  if (!topic.empty()) body["topic"] = topic;
  const AdminResponse r = client.request("POST", "/queues/purge", body.dump());
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const auto j = parsed(r, "POST /queues/purge");
  if (!j) return kExitFailed;
  std::cout << "purged " << number(*j, "purged") << " messages: " << what << "\n";
  return kExitOk;
}

int dead_letters(const Options& o) {
  if (o.words.size() != 2) throw UsageError("queues dead-letters takes no arguments (--session)");
  const AdminClient client(o);
  const AdminResponse r = client.request(
      "GET", "/queues/list" + query_string({{"dead_letters", "1"},
                                            {"node", o.get("node").value_or("")},
                                            {"session", o.get("session").value_or("")}}));
  if (!r.ok()) return o.json ? pass_through(r) : report_failure(r);
  const auto listed = parsed(r, "GET /queues/list");
  if (!listed) return kExitFailed;
  const Json& queues = (*listed)["queues"];
  bool truncated = listed->value("truncated", false);
  Json letters = Json::array();
  size_t peeked = 0;
  for (const Json& q : queues.is_array() ? queues : Json::array()) {
    if (++peeked > kDeadLetterQueues) {
      truncated = true;
      break;
    }
    const AdminResponse p = client.request(
        "GET", "/queues/peek" + query_string({{"store", "inbox"},
                                              {"node", text(q, "node")},
                                              {"session", text(q, "session")},
                                              {"topic", text(q, "topic")},
                                              {"count", o.get("count").value_or("")}}));
    if (!p.ok()) return o.json ? pass_through(p) : report_failure(p);
    const auto got = parsed(p, "GET /queues/peek");
    if (!got) return kExitFailed;
    for (const Json& m : (*got)["messages"].is_array() ? (*got)["messages"] : Json::array()) {
      const Json& md = m.contains("metadata") ? m["metadata"] : Json::object();
      letters.push_back({{"session", text(q, "session")},
                         {"message_id", text(m, "message_id")},
                         {"stored_ms", millis(m, "stored_ms")},
                         {"size", m.value("size", 0)},
                         {"code", text(md, "dead-letter-code")},
                         {"reason", text(md, "dead-letter-reason")},
                         {"target", text(md, "dead-letter-target")},
                         {"topic", text(md, "dead-letter-topic")},
                         {"metadata", md}});
    }
    // Only the first --count messages of each session are peeked.
    const Json& shown = (*got)["messages"];
    if (shown.is_array() && q.value("messages", uint64_t{0}) > shown.size()) truncated = true;
  }
  if (o.json) {
    std::cout << Json{{"dead_letters", letters}, {"truncated", truncated}}.dump() << "\n";
    return kExitOk;
  }
  if (letters.empty()) {
    std::cout << "no dead letters\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const Json& d : letters)
    rows.push_back({text(d, "session"), text(d, "message_id"), text(d, "target"), text(d, "code"),
                    age_text(millis(d, "stored_ms")), text(d, "reason")});
  std::cout << table({{"session", 16},
                      {"message id", 20},
                      {"target", 8},
                      {"code", 11},
                      {"age", 7},
                      {"reason", 32}},
                     rows);
  if (truncated)
    std::cout << "(more dead letters than shown: narrow with --session, or --count N per "
                 "session)\n";
  return kExitOk;
}

}  // namespace

int run_queue_inspect(const Options& o) {
  const std::string& sub = o.words[1];
  const std::vector<std::string> allowed =
      sub == "list"           ? std::vector<std::string>{"store", "node", "session", "topic"}
      : sub == "peek"         ? std::vector<std::string>{"store", "node", "count"}
      : sub == "purge"        ? std::vector<std::string>{"store", "node"}
      : sub == "dead-letters" ? std::vector<std::string>{"session", "node", "count"}
                              : std::vector<std::string>{};
  if (auto k = o.unknown(allowed)) throw UsageError("queues " + sub + ": unknown option --" + *k);
  if (sub == "list") return list(o);
  if (sub == "peek") return peek(o);
  if (sub == "purge") return purge(o);
  if (sub == "dead-letters") return dead_letters(o);
  throw UsageError("unknown queues subcommand " + sub);
}

}  // namespace ptp::ptpctl
