// ptpctl queues backup|restore (docs/ptpctl.md): a backup of a serving gateway's queue
// stores over the admin port, and the offline restore of one into an empty data directory;
// list|peek|purge|dead-letters are in queue_inspect.cpp.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "adapters/queue/embedded/embedded_queue_backup.h"
#include "tools/ptpctl/admin_client.h"
#include "tools/ptpctl/commands.h"
#include "tools/ptpctl/output.h"

namespace ptp::ptpctl {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// The stores of a data directory, as a backup holds them (gateway/queue/queue_backup.h).
const char* const kStores[] = {"inbox", "outbox"};

unsigned long long count(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_unsigned()
             ? j[key].get<unsigned long long>()
             : 0;
}

// "inbox 120 messages in 3 queues (123456 bytes), outbox 0 messages"
std::string stores_line(const Json& stores) {
  std::string out;
  for (const char* name : kStores) {
    if (!stores.is_object() || !stores.contains(name)) continue;
    const Json& s = stores[name];
    if (!out.empty()) out += ", ";
    out += std::string(name) + " " + std::to_string(count(s, "messages")) + " messages";
    if (count(s, "messages") > 0)
      out += " in " + std::to_string(count(s, "queue_count")) + " queues (" +
             std::to_string(count(s, "payload_bytes")) + " bytes)";
  }
  return out.empty() ? "no stores" : out;
}

int backup(const Options& o) {
  if (o.words.size() != 3)
    throw UsageError(
        "queues backup takes one argument: the backup directory on the gateway's host");
  std::string dir = o.words[2];
  // A relative path means one on this host: made absolute here (the gateway wants one).
  if (!dir.empty() && dir[0] != '/') dir = fs::absolute(dir).lexically_normal().string();
  const AdminClient client(o);
  // The gateway answers once the backup is complete; progress on stderr meanwhile.
  auto pending = std::async(std::launch::async, [&] {
    return client.request("POST", "/queues/backup", Json{{"dir", dir}}.dump());
  });
  const auto start = std::chrono::steady_clock::now();
  bool shown = false;
  while (pending.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
    const auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
            .count();
    std::cerr << "\rbacking up the queue stores into " << dir << " ... " << secs << " s"
              << std::flush;
    shown = true;
  }
  if (shown) std::cerr << "\n";
  const AdminResponse r = pending.get();
  if (o.json) return pass_through(r);
  if (!r.ok()) return report_failure(r);
  const Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object()) {
    std::cerr << "ptpctl: unexpected answer of POST /queues/backup\n";
    return kExitFailed;
  }
  const long long ms = j.value("finished_ms", 0LL) - j.value("started_ms", 0LL);
  std::cout << "backup of node " << j.value("node", std::string("-")) << " in "
            << j.value("dir", dir) << " (" << ms << " ms): " << stores_line(j["stores"]) << "\n";
  return kExitOk;
}

Json contents_json(const StoreContents& c) {
  return {{"messages", c.messages},
          {"payload_bytes", c.payload_bytes},
          {"acked_ids", c.acked_ids},
          {"released_sessions", c.released_sessions},
          {"queue_count", c.queues.size()}};
}

int restore(const Options& o) {
  if (o.words.size() != 4)
    throw UsageError("queues restore takes two arguments: BACKUP_DIR DATA_DIR");
  const std::string from = o.words[2], to = o.words[3];
  auto fail = [&](const std::string& why) {
    if (o.json)
      std::cout << Json{{"code", "E0000000500"}, {"message", why}}.dump() << "\n";
    else
      std::cerr << "ptpctl: " << why << "\n";
    return kExitFailed;
  };
  std::ifstream in(fs::path(from) / "backup.json");
  std::stringstream text;
  text << in.rdbuf();
  const Json summary = in ? Json::parse(text.str(), nullptr, false) : Json();
  if (!summary.is_object() || !summary.contains("stores") || !summary["stores"].is_object())
    return fail(from + " is no queue backup (no readable backup.json)");
  // Refused before anything is written: a restore never mixes into existing data.
  if (Status st = empty_or_missing(to); !st.ok())
    return fail("refusing to restore into " + to + ": " + st.message +
                " (restore into an empty or new directory, with the gateway stopped)");
  Json restored = Json::object();
  for (const char* name : kStores) {
    if (!summary["stores"].contains(name)) continue;
    StoreContents copied;
    const Status st =
        copy_store((fs::path(from) / name).string(), (fs::path(to) / name).string(), copied);
    if (!st.ok()) return fail(st.message);
    if (copied.messages != count(summary["stores"][name], "messages"))
      return fail("the restored " + std::string(name) + " holds " +
                  std::to_string(copied.messages) + " messages, backup.json says " +
                  std::to_string(count(summary["stores"][name], "messages")));
    restored[name] = contents_json(copied);
  }
  if (o.json) {
    std::cout << Json{{"from", from},
                      {"data_dir", to},
                      {"node", summary.value("node", std::string())},
                      {"stores", restored}}
                     .dump()
              << "\n";
  } else {
    std::cout << "restored " << from << " (node " << summary.value("node", std::string("-"))
              << ") into " << to << ": " << stores_line(restored)
              << "\nstart the gateway with --data-dir " << to << " (or queue.path: " << to << ")\n";
  }
  return kExitOk;
}

}  // namespace

int run_queues(const Options& o) {
  if (o.words.size() < 2)
    throw UsageError("queues needs a subcommand: list|peek|purge|dead-letters|backup|restore");
  const std::string& sub = o.words[1];
  if (sub == "list" || sub == "peek" || sub == "purge" || sub == "dead-letters")
    return run_queue_inspect(o);
  if (auto k = o.unknown({})) throw UsageError("queues " + sub + ": unknown option --" + *k);
  if (sub == "backup") return backup(o);
  if (sub == "restore") return restore(o);
  throw UsageError("unknown queues subcommand " + sub +
                   " (list|peek|purge|dead-letters|backup|restore)");
}

}  // namespace ptp::ptpctl
