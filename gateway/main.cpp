// ptp-gateway: the PTP/1.0 gateway (edge or router role).
//   ptp-gateway --config FILE [--data-dir DIR]   run in the foreground
//   ptp-gateway --check-config FILE     validate and exit (non-zero with the reason)
//   ptp-gateway --version               "ptp-gateway <version> (<git commit>)"
//   ptp-gateway --mint-token --key-file F --source A --target B --session S [--ttl 3600]
//   ptp-gateway --mint-token --identity DIR --source A --target B --session S [--ttl 3600]
//     [--config FILE | --crypto international|gm]: the hmac token of that crypto profile
//     (v1, or g1 under gm)
#include <sys/resource.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "adapters/kafka/kafka_egress.h"
#include "adapters/kafka/kafka_ingress.h"
#include "codecs/queue_codec.h"
#include "codecs/validate.h"
#include "common/random_hex.h"
#include "common/unix_time.h"
#include "common/version.h"
#include "gateway/config/config_store.h"
#include "gateway/diagnose/diagnose_service.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/observability/admin_auth.h"
#include "gateway/observability/admin_server.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/peer_metrics.h"
#include "gateway/observability/process_metrics.h"
#include "gateway/peering/crypto.h"
#include "gateway/peering/peering_service.h"
#include "gateway/permits/permit_attach.h"
#include "gateway/permits/permit_service.h"
#include "gateway/pipeline/encapsulation.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/pipeline/token.h"
#include "gateway/queue/egress_drainer.h"
#include "gateway/queue/outbox.h"
#include "gateway/queue/passive_delivery.h"
#include "gateway/queue/queue_backend.h"
#include "gateway/queue/queue_backup.h"
#include "gateway/queue/queue_health.h"
#include "gateway/queue/queue_inspect.h"
#include "gateway/queue/queue_metrics.h"
#include "gateway/queue/queue_service.h"
#include "gateway/route/route_report.h"
#include "gateway/rs/rs_host.h"
#include "gateway/rs/rs_metrics.h"
#include "gateway/server/listener.h"
#include "gateway/upstream/peer_health.h"
#include "trust/identity.h"
#include "trust/signed_token.h"

namespace {

using namespace ptp;

int usage() {
  std::cerr << "usage: ptp-gateway --config FILE [--data-dir DIR]\n"
               "       ptp-gateway --check-config FILE\n"
               "       ptp-gateway --version\n"
               "       ptp-gateway --mint-token (--key-file F | --key K | --identity DIR) "
               "--source NODE --target NODE --session ID [--ttl SECONDS]\n"
               "              [--config FILE | --crypto international|gm]\n";
  return 2;
}

std::map<std::string, std::string> parse_flags(int argc, char** argv, bool& ok) {
  std::map<std::string, std::string> f;
  ok = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!a.starts_with("--")) {
      ok = false;
      break;
    }
    if (a == "--mint-token") {
      f[a] = "1";
    } else if (i + 1 < argc) {
      f[a] = argv[++i];
    } else {
      ok = false;
    }
  }
  return f;
}

// The MAC of hmac tokens: the profile of --config FILE (its `crypto`), else --crypto,
// else international. False (with the reason on stderr) when neither can be used.
bool token_mac_of(std::map<std::string, std::string>& f, MacDigest& mac) {
  mac = MacDigest::kSha256;
  if (f.count("--config") && f.count("--crypto")) {
    std::cerr << "--config and --crypto: give one (the config's crypto key decides)\n";
    return false;
  }
  if (f.count("--config")) {
    std::string error;
    ConfigPtr cfg = load_config(f["--config"], error);
    if (!cfg) {
      std::cerr << error << "\n";
      return false;
    }
    mac = cfg->auth.token_mac;
  } else if (f.count("--crypto")) {
    const std::string& c = f["--crypto"];
    if (c != "gm" && c != "international") {
      std::cerr << "--crypto: expected international or gm, got \"" << c << "\"\n";
      return false;
    }
    if (c == "gm") mac = MacDigest::kSm3;
  }
  return true;
}

// A v1 token from an hmac key (--key, --key-file; g1 under crypto: gm), or an s1 token
// signed with the node key of an identity directory (--identity).
int mint(std::map<std::string, std::string>& f) {
  std::string key = f["--key"];
  if (f.count("--key-file")) {
    std::ifstream in(f["--key-file"]);
    if (!in) {
      std::cerr << "cannot read key file " << f["--key-file"] << "\n";
      return 2;
    }
    std::getline(in, key);
  }
  const bool signed_token = f.count("--identity") > 0;
  // Exactly one of the two kinds of key.
  if (signed_token == !key.empty() || f["--source"].empty() || f["--target"].empty() ||
      f["--session"].empty())
    return usage();
  // Verifiers refuse tokens valid for longer than their auth.max_token_lifetime_s (default
  // one day, at most a year).
  int64_t ttl = 3600;
  if (f.count("--ttl")) {
    const std::string& t = f["--ttl"];
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ttl);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || ttl < 1 ||
        ttl > 366 * 24 * 3600) {
      std::cerr << "--ttl: expected whole seconds from 1 to 31622400, got \"" << t << "\"\n";
      return 2;
    }
  }
  if (signed_token) {
    IdentityConfig id;
    id.dir = f["--identity"];
    std::string error;
    auto node_key = NodeKey::load_pem_file(id.node_key_file(), error);
    if (!node_key) {
      std::cerr << "cannot load the node key " << id.node_key_file() << ": " << error << "\n";
      return 2;
    }
    std::string t = mint_signed_token(*node_key, f["--source"], f["--target"], f["--session"],
                                      unix_now() + ttl);
    if (t.empty()) {
      std::cerr << "cannot sign the token\n";
      return 1;
    }
    std::cout << t << "\n";
    return 0;
  }
  MacDigest mac;
  if (!token_mac_of(f, mac)) return 2;
  std::cout << mint_token(key, f["--source"], f["--target"], f["--session"], unix_now() + ttl, mac)
            << "\n";
  return 0;
}

// A record from the Kafka ingress topic: a push by this node's platform. Its source is
// this node (filled in when missing, like a container's; another node is refused).
void submit_ingress(const Config& cfg, QueueService& queues, Envelope env, QueueStore::Done done) {
  auto& h = env.header;
  if (h.source_node_id.empty()) h.source_node_id = cfg.node_id;
  if (h.source_inst_id.empty()) h.source_inst_id = cfg.inst_id;
  if (h.source_node_id != cfg.node_id)
    return done(Status::Error(Code::kForbidden, "ingress record claims source node " +
                                                    h.source_node_id + ", not " + cfg.node_id));
  if (h.target_node_id.empty()) h.target_node_id = cfg.node_id;
  if (h.trace_id.empty()) h.trace_id = new_trace_id();
  // The attachment is authenticated by Kafka itself (ACLs, SASL/TLS in properties), so a
  // record needs no x-ptp-token; it gets one from this node's key, as a container has.
  if (h.token.empty()) {
    auto key = cfg.auth.node_keys.find(cfg.node_id);
    h.token = key == cfg.auth.node_keys.end()
                  ? "kafka-attachment"
                  : mint_token(key->second, cfg.node_id, h.target_node_id, h.session_id,
                               unix_now() + 300, cfg.auth.token_mac);
  }
  ValidationLimits lim{cfg.limits.max_field_length, cfg.queue.limits.max_message_bytes};
  if (Status st = validate_request(env, Interface::kPush, lim); !st.ok()) return done(st);
  if (env.meta["message-topic"].empty())
    return done(Status::Error(Code::kBadRequest, "ingress record without x-ptp-topic header"));
  queues.submit(cfg, std::move(env), cfg.queue.default_push_wait,
                [done](Status s, const std::string&) { done(std::move(s)); });
}

// Every client connection takes a descriptor: the soft limit (often 1024) goes up to the
// hard one. Returns the soft limit now in force.
rlim_t raise_descriptor_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur;
}

int run(ConfigPtr cfg, const std::string& data_dir) {
  const rlim_t nofile = raise_descriptor_limit();
  // A file-size limit (RLIMIT_FSIZE) reached is a write error (EFBIG) the stores handle like
  // a full disk, not a signal that ends the process.
  std::signal(SIGXFSZ, SIG_IGN);
  auto level = JsonLog::parse_level(cfg->log.level).value_or(LogLevel::kInfo);
  std::unique_ptr<JsonLog> log = cfg->log.file.empty()
                                     ? std::make_unique<JsonLog>(level)
                                     : std::make_unique<JsonLog>(cfg->log.file, level);
  Metrics metrics;
  metrics.config_reload(true);
  ConfigStore store(cfg);
  // The evidence log (docs/evidence.md): opened at start when the section exists. One that
  // cannot be opened (or whose chain cannot be continued) stops the start.
  std::unique_ptr<EvidenceLog> evidence;
  if (cfg->evidence.enabled) {
    EvidenceConfig ec = cfg->evidence;
    if (ec.dir.empty()) ec.dir = data_dir + "/evidence";
    std::string error;
    evidence =
        EvidenceLog::open(ec, cfg->crypto.digest, cfg->identity.node_key, *log, metrics, error);
    if (!evidence) {
      log->error("cannot open the evidence log", {.extra = {{"error", error}}});
      std::cerr << "ptp-gateway: cannot open the evidence log: " << error << "\n";
      return 1;
    }
  }
  // The dynamic peer table (docs/peering.md): with an identity, the handshake is served and
  // the recorded peers are laid over the file's from the start. An identity the handshake
  // cannot use (a certificate that does not match its root...) leaves peering off, logged;
  // a peer table that cannot be read stops the start (its peers would silently vanish).
  std::unique_ptr<PeeringService> peering;
  HandshakeCrypto crypto;
  std::string crypto_error;
  if (!cfg->identity.dir.empty() && !make_handshake_crypto(*cfg, crypto, crypto_error))
    log->error("peering is off: the identity cannot be used for the handshake",
               {.extra = {{"error", crypto_error}}});
  else if (!cfg->identity.dir.empty()) {
    std::string error;
    const std::string path =
        cfg->peering.store.empty() ? data_dir + "/peering.json" : cfg->peering.store;
    std::unique_ptr<PeerStore> peer_store = PeerStore::open(path, error);
    if (!peer_store) {
      log->error("cannot open the peer table", {.extra = {{"error", error}}});
      std::cerr << "ptp-gateway: cannot open the peer table: " << error << "\n";
      return 1;
    }
    peering =
        std::make_unique<PeeringService>(store, std::move(peer_store), std::move(crypto), *log);
    peering->set_evidence(evidence.get());
    peering->start();
  }

  // Permits (docs/authorization.md "Permits"): with an identity, this node issues permits
  // signed by its node key and presents those it holds. A store that cannot be opened
  // stops the start (counted uses would silently reset).
  std::unique_ptr<PermitService> permits;
  if (!cfg->identity.dir.empty()) {
    std::string error;
    std::unique_ptr<PermitStore> permit_store;
    // The node key the configuration loaded: the permits need no TLS certificate (a bad
    // tls.crt turns peering off but must not stop the gateway).
    const std::shared_ptr<const NodeKey> node_key = cfg->identity.node_key;
    std::optional<PublicKey> own_key;
    if (node_key)
      own_key = node_key->public_key(error);
    else
      error = "no node key loaded from " + cfg->identity.node_key_file();
    if (own_key)
      permit_store = PermitStore::open(
          cfg->permits.store.empty() ? data_dir + "/permits" : cfg->permits.store, error);
    if (!permit_store) {
      log->error("cannot open the permit store", {.extra = {{"error", error}}});
      std::cerr << "ptp-gateway: cannot open the permit store: " << error << "\n";
      return 1;
    }
    permits = std::make_unique<PermitService>(store, std::move(permit_store), *node_key,
                                              std::move(*own_key), *log);
    // Issued, revoked and refused permits are audit records of the evidence log.
    if (evidence)
      permits->set_audit(
          [ev = evidence.get()](std::string_view event,
                                const std::vector<std::pair<std::string, std::string>>& fields) {
            std::vector<std::pair<std::string, std::string>> record{{"event", std::string(event)}};
            record.insert(record.end(), fields.begin(), fields.end());
            ev->append("audit", record);
          });
    permits->start();
  }

  unsigned n =
      cfg->io_threads ? cfg->io_threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  std::vector<boost::asio::io_context*> raw;
  std::vector<std::unique_ptr<Pipeline>> pipelines;
  // ptpctl diagnose (POST /diagnose/hop, in-band ptp/diag/hop): destroyed before the I/O
  // contexts its answers are posted to.
  DiagnoseService diagnose(store, *log);
  // Queue stores: settings apply at start (a reload does not move the data).
  std::unique_ptr<QueueStore> inbox, outbox_store;
  if (cfg->queue.enabled) {
    Status st;
    inbox = open_queue_store(cfg->queue, cfg->node_id, data_dir, "inbox", st, &metrics);
    if (st.ok())
      outbox_store = open_queue_store(cfg->queue, cfg->node_id, data_dir, "outbox", st, &metrics);
    if (!st.ok()) {
      log->error("cannot open the queue store", {.extra = {{"error", st.message}}});
      std::cerr << "ptp-gateway: cannot open the queue store: " << st.message << "\n";
      return 1;
    }
  }
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<Guard> guards;
  for (unsigned i = 0; i < n; ++i) {
    contexts.push_back(std::make_unique<boost::asio::io_context>(1));
    raw.push_back(contexts.back().get());
    guards.emplace_back(contexts.back()->get_executor());
  }
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<KafkaEgress> egress;
  std::unique_ptr<QueueService> queues;
  const KafkaAttachmentConfig& ka = cfg->kafka_attachment;
  if (inbox && !ka.egress_topic.empty()) {
    Status st;
    egress = KafkaEgress::open({ka.bootstrap, ka.egress_topic, ka.properties}, st);
    if (!egress) {
      std::cerr << "ptp-gateway: kafka_attachment: " << st.message << "\n";
      return 1;
    }
  }
  if (inbox) {
    outbox =
        std::make_unique<Outbox>(*outbox_store, contexts[0]->get_executor(), store, metrics, *log);
    outbox->set_evidence_log(evidence.get());
    queues = std::make_unique<QueueService>(*inbox, outbox.get(), egress != nullptr);
    // Dead letters of the outbox: a push from this node to itself (docs/queues.md).
    outbox->set_dead_letter_sink([&store, q = queues.get()](Envelope env, QueueStore::Done done) {
      ConfigPtr now = store.current();
      q->submit(*now, std::move(env), now->queue.default_push_wait,
                [done = std::move(done)](Status s, const std::string&) { done(std::move(s)); });
    });
    // A push to a node this node holds a permit from presents it.
    if (permits)
      outbox->set_forward_hook([p = permits.get()](Envelope& env) {
        if (p->holds_any()) attach_held_permit(*p->held(), env, unix_now());
      });
    // Messages left from an earlier run: drain towards every target that has some (also
    // those reached by the default route) and every peer.
    std::vector<std::string> targets = outbox_store->nodes_at_open();
    for (const auto& p : store.current()->peers) targets.push_back(p.node_id);
    outbox->resume(targets);
  }
  std::unique_ptr<PassiveDelivery> passive;
  if (queues) {
    passive = std::make_unique<PassiveDelivery>(*inbox, contexts[0]->get_executor(), store, metrics,
                                                *log, *queues);
    passive->start();
  }
  // The router server: jobs arrive as messages for this node (QueueService's hook).
  std::unique_ptr<RsHost> rs_host;
  if (queues && cfg->router_server.enabled) {
    rs_host = std::make_unique<RsHost>(*inbox, *queues, store, *log, cfg->router_server.workers);
    rs_host->set_evidence(evidence.get());
    queues->set_on_local_stored([h = rs_host.get()](const QueueKey& k) { h->on_local_stored(k); });
  }
  std::unique_ptr<EgressDrainer> egress_drainer;
  if (egress)
    egress_drainer = std::make_unique<EgressDrainer>(*inbox, *egress, cfg->node_id,
                                                     contexts[0]->get_executor(), store, *log);
  std::unique_ptr<KafkaIngress> ingress;
  if (queues && !ka.ingress_topic.empty()) {
    Status st;
    ingress = KafkaIngress::open(
        {ka.bootstrap, ka.ingress_topic, ka.group_id, ka.properties},
        [&store, &queues](Envelope env, QueueStore::Done done) {
          submit_ingress(*store.current(), *queues, std::move(env), std::move(done));
        },
        [&log](std::string_view what, const Envelope& env, const Status& s) {
          log->error(std::string("kafka ingress record ") + std::string(what),
                     {.trace_id = env.header.trace_id,
                      .session_id = env.header.session_id,
                      .source = env.header.source_node_id,
                      .target = env.header.target_node_id,
                      .extra = {{"error", s.to_string()}}});
        },
        st);
    if (!ingress) {
      std::cerr << "ptp-gateway: kafka_attachment: " << st.message << "\n";
      return 1;
    }
  }
  for (auto& c : contexts)
    pipelines.push_back(std::make_unique<Pipeline>(c->get_executor(), store, metrics, *log,
                                                   queues.get(), peering.get(), evidence.get(),
                                                   permits.get(), &diagnose));
  // Encapsulated requests (no x-ptp-version 1) are unwrapped in front of each pipeline.
  std::vector<std::unique_ptr<EncapsulationGate>> gates;
  for (auto& p : pipelines) gates.push_back(std::make_unique<EncapsulationGate>(*p, store));
  // Peers with several addresses (docs/operations.md "Failover"): checked on the checker's
  // own thread. A move away from an address that went down closes the I/O threads'
  // connections to it (requests in flight there end with E0000000607) and makes the
  // outbox try again at once through the address now chosen.
  PeerHealth peer_health(store, metrics, *log);
  peer_health.set_on_move([&](const PeerMove& m) {
    if (m.from_down)
      for (size_t i = 0; i < pipelines.size(); ++i)
        boost::asio::post(
            contexts[i]->get_executor(),
            [p = pipelines[i].get(), ep = m.from, why = m.why] { p->close_upstream(ep, why); });
    if (outbox) outbox->next_hop_moved(m.from_down ? std::optional(m.from) : std::nullopt, m.why);
  });
  peer_health.start();
  boost::asio::io_context control(1);  // admin port, reloads, signals
  bool ready = false;
  try {
    Listener listener(
        raw, [&](size_t i) -> Dispatcher& { return *gates[i]; }, *cfg, *log);
    listener.follow_reloads(store);
    listener.count_tls_failures(metrics);
    listener.start();
    QueueHealth queue_health(metrics, {{"inbox", inbox.get()}, {"outbox", outbox_store.get()}});
    // Families read at scrape time (docs/observability.md).
    add_queue_metrics(metrics, {{"inbox", inbox.get()}, {"outbox", outbox_store.get()}});
    add_process_metrics(metrics, data_dir);
    add_peer_metrics(metrics, store);
    if (rs_host) add_router_job_metrics(metrics, *rs_host);
    ConfigWatcher watcher(control.get_executor(), store, [&](bool ok, const std::string& msg) {
      metrics.config_reload(ok);
      if (ok) {
        // log.level and log.file apply on reload; the file is reopened by name even when
        // unchanged, so a rotated log continues in a new file.
        const ConfigPtr now = store.current();
        if (auto lvl = JsonLog::parse_level(now->log.level)) log->set_level(*lvl);
        std::string log_error;
        if (!log->set_output(now->log.file, log_error))
          log->error("cannot switch the log file, keeping the current one",
                     {.extra = {{"error", log_error}}});
        log->info("config reloaded", {.extra = {{"file", cfg->source_path}}});
        if (evidence) {
          evidence->reconfigure(now->evidence);
          evidence->append("audit", {{"event", "config_reload"},
                                     {"file", cfg->source_path},
                                     {"generation", std::to_string(store.generation())}});
        }
      } else {
        log->error("config reload rejected, keeping the running config",
                   {.extra = {{"error", msg}}});
        if (evidence)
          evidence->append(
              "audit",
              {{"event", "config_reload_rejected"}, {"file", cfg->source_path}, {"error", msg}});
      }
    });
    // POST /queues/backup (docs/operations.md): declared before the admin server, so a
    // running backup is waited for after the server is gone and before the stores close.
    std::unique_ptr<QueueBackup> backup;
    if (inbox)
      backup = std::make_unique<QueueBackup>(
          QueueBackup::Stores{{"inbox", inbox.get()}, {"outbox", outbox_store.get()}}, cfg->node_id,
          *log);
    // Queue inspection (GET /queues/list, /queues/peek, POST /queues/purge; docs/queues.md
    // "Inspecting queues"): its own thread, waited for after the admin server is gone.
    std::unique_ptr<QueueInspect> inspect;
    if (inbox)
      inspect = std::make_unique<QueueInspect>(
          QueueInspect::Stores{{"inbox", inbox.get()}, {"outbox", outbox_store.get()}},
          cfg->node_id, [&store] { return store.current()->queue.dead_letter_topic; }, *log);
    AdminServer admin(control, cfg->admin, metrics,
                      [&ready, &queue_health] { return ready && queue_health.healthy(); });
    // The effective routes of the current snapshot (`ptpctl routes`, docs/ptpctl.md).
    admin.add_route("GET", "/routes", [&store](AdminRequest req, AdminRespond respond) {
      if (!req.path_rest.empty())
        return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
      const ConfigPtr cfg = store.current();
      if (req.query.empty()) return respond(200, route_table_json(*cfg));
      auto [status, body] = route_decision_json(*cfg, query_param(req.query, "node").value_or(""),
                                                query_param(req.query, "inst").value_or(""),
                                                query_param(req.query, "uri").value_or(""));
      respond(status, std::move(body));
    });
    if (rs_host)
      admin.add_json_route(
          "/rs/jobs/", [h = rs_host.get()](std::string_view job_id) { return h->status(job_id); });
    if (inbox)
      admin.add_json_route("/queues", [&inbox, &outbox_store](std::string_view) {
        return std::pair<unsigned, std::string>{
            200, queue_stats_json({{"inbox", inbox->stats()}, {"outbox", outbox_store->stats()}})};
      });
    if (inspect) {
      QueueInspect* q = inspect.get();
      admin.add_route(
          "GET", "/queues/list",
          [q](AdminRequest req, AdminRespond respond) {
            q->list(std::move(req), std::move(respond));
          },
          /*credential=*/true);
      admin.add_route(
          "GET", "/queues/peek",
          [q](AdminRequest req, AdminRespond respond) {
            q->peek(std::move(req), std::move(respond));
          },
          /*credential=*/true);
      admin.add_route("POST", "/queues/purge", [q](AdminRequest req, AdminRespond respond) {
        q->purge(std::move(req), std::move(respond));
      });
    }
    if (rs_host)
      admin.add_route(
          "GET", "/rs/jobs", [h = rs_host.get()](AdminRequest req, AdminRespond respond) {
            if (!req.path_rest.empty())
              return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
            auto [status, body] = h->list(kRsJobsListed);
            respond(status, std::move(body));
          });
    if (backup)
      admin.add_route("POST", "/queues/backup",
                      [b = backup.get()](AdminRequest req, AdminRespond respond) {
                        b->handle(std::move(req), std::move(respond));
                      });
    // The operator credential is read from the config at start and on every reload.
    admin.set_operator_token([&store] { return store.current()->admin_access.token; });
    admin.set_body_timeout(cfg->admin_access.body_timeout);
    if (cfg->admin_access.tls) admin.set_tls(*cfg->admin_access.tls);
    admin.add_route("POST", "/reload", [&watcher](AdminRequest req, AdminRespond respond) {
      if (!req.path_rest.empty())
        return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
      watcher.reload_now("POST /reload", [respond](bool ok, const std::string& msg) {
        respond(ok ? 200 : 400, admin_error_json(ok ? Code::kOk : Code::kBadRequest, msg));
      });
    });
    if (peering) {
      // The peer table (docs/peering.md "Admin routes"): the work runs on the peering
      // thread, which answers through respond.
      auto peer_route = [p = peering.get()](std::string prefix) {
        return [p, prefix](AdminRequest req, AdminRespond respond) {
          p->admin({req.method, prefix + req.path_rest, std::move(req.body)}, std::move(respond));
        };
      };
      admin.add_route("GET", "/peers", peer_route("/peers"));
      admin.add_route("POST", "/peers", peer_route("/peers"));
      admin.add_route("DELETE", "/peers", peer_route("/peers"));
      admin.add_route("POST", "/v1/interconn/net/refresh", peer_route("/v1/interconn/net/refresh"));
      admin.add_route("POST", "/v1/interconn/node/refresh",
                      peer_route("/v1/interconn/node/refresh"));
    }
    if (permits) {
      // Permits (docs/authorization.md "Admin routes"): the work runs on the permit thread,
      // which answers through respond.
      auto permit_route = [p = permits.get()](AdminRequest req, AdminRespond respond) {
        p->admin({req.method, "/permits" + req.path_rest, std::move(req.body)}, std::move(respond));
      };
      admin.add_route("GET", "/permits", permit_route);
      admin.add_route("POST", "/permits", permit_route);
      admin.add_route("DELETE", "/permits", permit_route);
    }
    // ptpctl diagnose (docs/ptpctl.md "diagnose"): the probe runs on its own thread.
    admin.add_route("POST", "/diagnose/hop", [&diagnose](AdminRequest req, AdminRespond respond) {
      diagnose.admin(std::move(req), std::move(respond));
    });
    admin.start();
    auto stop_all = [&] {
      watcher.stop();
      diagnose.stop();
      admin.stop();
      if (outbox) outbox->stop();
      if (passive) passive->stop();
      if (peering) peering->stop();
      if (permits) permits->stop();
      peer_health.stop();
      for (auto& g : guards) g.reset();
      for (auto& c : contexts) c->stop();
      control.stop();
    };
    // Graceful shutdown: stop accepting, tell clients (GOAWAY / Connection: close), answer
    // waiting pops, and let what was accepted finish within shutdown_grace_ms. A second
    // signal stops at once.
    boost::asio::signal_set stop_signals(control, SIGINT, SIGTERM);
    boost::asio::steady_timer drain_timer(control);
    std::chrono::steady_clock::time_point drain_deadline;
    std::function<void()> check_drained = [&] {
      const size_t live = listener.live_sessions();
      // Sent records waiting for the receipts in their answers' trailers come within the
      // peers' receipt windows: the upstream connections stay until then.
      const bool promised = evidence && evidence->promised() > 0;
      if ((live > 0 || promised) && std::chrono::steady_clock::now() < drain_deadline) {
        drain_timer.expires_after(std::chrono::milliseconds(50));
        drain_timer.async_wait([&](const boost::system::error_code& ec) {
          if (!ec) check_drained();
        });
        return;
      }
      log->info("shutting down", {.extra = {{"connections_cut", std::to_string(live)}}});
      stop_all();
    };
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int) {
          if (ec) return;
          if (!ready) return stop_all();  // the second signal
          ready = false;                  // /readyz answers 503 from now on
          const auto grace = store.current()->shutdown_grace;
          log->info("draining before shutdown",
                    {.extra = {{"grace_ms", std::to_string(grace.count())}}});
          listener.stop();
          listener.drain();
          if (queues) queues->drain();
          drain_deadline = std::chrono::steady_clock::now() + grace;
          stop_signals.async_wait(on_signal);
          check_drained();
        };
    stop_signals.async_wait(on_signal);
    std::vector<std::thread> threads;
    for (auto& c : contexts) threads.emplace_back([&c] { c->run(); });
    ready = true;
    const std::string rs_role =
        rs_host ? std::string(1, rs::role_letter(cfg->router_server.role)) : "off";
    log->info("gateway started",
              {.extra = {{"node", cfg->node_id},
                         {"role", cfg->router_role ? "router" : "edge"},
                         {"router_server", rs_role},
                         {"listen", cfg->listen.to_string()},
                         {"admin", cfg->admin.to_string()},
                         {"tls", cfg->tls                     ? "on"
                                 : !cfg->identity.dir.empty() ? "identity"
                                                              : "off"},
                         {"io_threads", std::to_string(n)},
                         {"nofile", std::to_string(nofile)},
                         {"max_connections", std::to_string(listener.max_connections())}}});
    control.run();
    for (auto& t : threads) t.join();
  } catch (const std::exception& e) {
    log->error("fatal", {.extra = {{"error", e.what()}}});
    std::cerr << "ptp-gateway: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (print_version_if_asked(argc, argv, "ptp-gateway")) return 0;
  bool ok = false;
  auto f = parse_flags(argc, argv, ok);
  if (!ok) return usage();
  if (f.count("--mint-token")) return mint(f);
  std::string path = f.count("--check-config") ? f["--check-config"] : f["--config"];
  if (path.empty()) return usage();
  std::string error;
  ConfigPtr cfg = load_config(path, error);
  if (!cfg) {
    std::cerr << error << "\n";
    return 1;
  }
  if (f.count("--check-config")) {
    std::cout << path << ": ok (node " << cfg->node_id << ", " << cfg->peers.size() << " peers, "
              << cfg->local_services.size() << " local services)\n";
    return 0;
  }
  // --data-dir overrides queue.path (containers, tests).
  return run(cfg, f.count("--data-dir") ? f["--data-dir"] : cfg->queue.path);
}
