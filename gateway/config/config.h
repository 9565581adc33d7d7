// The gateway's configuration: parsed and validated from YAML into an immutable value
// (docs/architecture.md, "Config is a value"). docs/configuration.md documents every key.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "codecs/encapsulated_codec.h"
#include "codecs/interface.h"
#include "codecs/queue_codec.h"
#include "common/token.h"
#include "gateway/exchange/grpc_errors.h"
#include "router/rs/job_spec.h"
#include "trust/digest.h"
#include "trust/node_key.h"

namespace ptp {

enum class PeerProtocol { kHttp2, kGrpc, kHttp1 };

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // non-empty: require and verify client certificates (mTLS)
};

struct TlsClientConfig {
  bool enabled = false;
  std::string ca_file;    // verify the peer against this CA (empty: system default)
  std::string cert_file;  // client certificate for mTLS (optional)
  std::string key_file;
  std::string server_name;  // SNI and name to verify (default: host of the address)
  bool verify = true;
  // A peer with a pinned root (peers[i].root_file, or the peering handshake): its chain
  // must end at this root and nothing else (no system or ca_file CAs), and its leaf must
  // name expected_node_id (URI SAN urn:ptp:node:<id>); the host name is not checked.
  std::string pinned_root_pem;
  std::string expected_node_id;
};

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

// A peer recorded by the peering handshake (docs/peering.md): pending until approved
// (not routed), active, or disabled by the operator (E0000000606 both ways).
enum class PeerState { kPending, kActive, kDisabled };
// "pending", "active", "disabled".
std::string_view peer_state_name(PeerState s);
// Accepts exactly the names peer_state_name() returns.
bool parse_peer_state(std::string_view name, PeerState& out);

// peers[i].health (docs/configuration.md): how the addresses of a peer with several are
// checked. An address is down after `fall` failed checks in a row, up after `rise` good ones.
struct PeerHealthConfig {
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{1000};
  int fall = 2;
  int rise = 2;
};

// Which of a peer's addresses traffic goes to: an index into PeerConfig::addresses, written
// by the health checker (gateway/upstream/peer_health), read lock-free on every request.
struct AddressChoice {
  std::atomic<uint32_t> index{0};
};

struct PeerConfig {
  std::string node_id;
  std::string inst_id;              // optional: routes by target institution as fallback
  std::optional<Endpoint> address;  // direct next hop (with `addresses`: the first) ...
  std::string via;                  // ... or reached through another peer (node id)
  // peers[i].addresses: two or more, in order of preference, health-checked (`health`);
  // empty for a peer with one address. `choice` (set with them) is the one in use.
  std::vector<Endpoint> addresses;
  PeerHealthConfig health;
  std::shared_ptr<AddressChoice> choice;
  // Where requests to this direct peer go now: its address, or the chosen one of several.
  const Endpoint& endpoint() const {
    return choice ? addresses[choice->index.load(std::memory_order_relaxed)] : *address;
  }
  // "host:port" of each of `addresses` (the admin routes list them).
  std::vector<std::string> address_texts() const {
    std::vector<std::string> out;
    for (const Endpoint& e : addresses) out.push_back(e.to_string());
    return out;
  }
  PeerProtocol protocol = PeerProtocol::kHttp2;
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds keepalive{30000};  // HTTP/2 PING interval on idle connections
  TlsClientConfig tls;
  // The target node is reachable only asynchronously: an invoke to it becomes a push plus
  // a wait for the reply on a message-topic-back (docs/queues.md "Sync and async").
  bool async_only = false;
  // A v1.1.0 peer: requests to it are encapsulated (docs/encapsulation.md), no x-ptp-version,
  // the message an Inbound in this serialization. nullopt: x-ptp-version 1, pass-through.
  std::optional<EncapsulatedFormat> encapsulation;
  // How gRPC errors are answered to requests from this node (unset: listen.grpc_errors).
  std::optional<GrpcErrors> grpc_errors;
  // How requests claiming this node as source are authenticated (unset: auth.mode).
  std::optional<AuthMode> auth_mode;
  // The peer's node root certificate (PEM), pinned: its TLS certificate must be issued by
  // it and name this node id, and its signature tokens are checked with its key. From
  // peers[i].root_file, or recorded by the peering handshake (docs/peering.md).
  std::string root_file;
  std::string root_pem;
  // A router: it may carry requests whose claimed source is another node (that node's
  // signature token proves the source, not this hop's certificate).
  bool relay = false;
  // A router's route toward this peer: the receipts on answers coming back from it get
  // this node's countersign with its timestamp (docs/evidence.md; needs an evidence
  // section and identity.dir).
  bool countersign = false;
  // A peer of the dynamic peer table (gateway/peering), overlaid on the YAML peers: its
  // state and the unix time its peering expires (E0000000605 afterwards; 0: never).
  bool dynamic = false;
  PeerState state = PeerState::kActive;
  int64_t expires_at = 0;
};

// What the pipeline checks of a dynamic peer on every request to or from it.
struct DynamicPeerState {
  std::string node_id;
  PeerState state = PeerState::kActive;
  int64_t expires_at = 0;  // 0: never
};

// The dynamic peer `node_id` in `sorted` (Config::dynamic_peers), or nullptr.
const DynamicPeerState* find_dynamic_peer(const std::vector<DynamicPeerState>& sorted,
                                          std::string_view node_id);

struct LocalServiceConfig {
  std::string uri_pattern;  // x-ptp-uri glob, '*' matches any run of characters
  Endpoint address;
  PeerProtocol protocol = PeerProtocol::kHttp1;
  std::string path = "/";  // HTTP path (grpc: full method path)
  std::chrono::milliseconds timeout{30000};
  // Passive mode: queued messages whose topic matches `uri_pattern` are delivered to this
  // service by invoking it (retried until it answers 2xx), instead of waiting for pops.
  bool passive = false;
};

// AuthConfig (the token keys and bounds) is in common/token.h.

struct LimitsConfig {
  uint64_t max_body_bytes = 64ull << 20;  // unary bodies (invoke, push)
  uint64_t max_header_bytes = 64 << 10;   // all headers of one request
  uint32_t max_field_length = 1024;       // any single PTP header field
  uint32_t max_hops = 8;
  uint32_t max_concurrent_streams = 100;
  // HTTP/1.1 next hops (local services, peers): connections per host:port, in use + idle.
  uint32_t http1_connections_per_host = 256;
  // HTTP/2 request bodies held while they arrive (docs/security.md): per connection and
  // per process. Defaults: 128 MiB and 512 MiB, raised to max_body_bytes if that is larger.
  uint64_t buffered_body_bytes_per_connection = 128ull << 20;
  uint64_t buffered_body_bytes_total = 512ull << 20;
};

// Client connections on the PTP port: how long each may wait on its client, and how many
// may be open (docs/configuration.md "connections", docs/security.md). Read at start.
struct ConnectionsConfig {
  std::chrono::milliseconds first_bytes{10000};    // cleartext: until HTTP/1.1 or HTTP/2 is known
  std::chrono::milliseconds tls_handshake{10000};  // TLS: until the handshake is done
  // No request in progress (HTTP/1.1: until the next request head is complete; HTTP/2: no
  // open stream): the connection is closed after this.
  std::chrono::milliseconds idle{60000};
  // A request body that brings no bytes (HTTP/1.1: fewer than min_progress_bytes) and a
  // response the client does not take for this long: the stream is reset (HTTP/1.1: the
  // connection closed); a popped message it carried goes back to its queue.
  std::chrono::milliseconds progress{30000};
  uint32_t min_progress_bytes = 1024;
  // Open connections beyond which new ones are closed at once; 0: 3/4 of the process's
  // file-descriptor limit (RLIMIT_NOFILE) at start.
  uint64_t max_connections = 0;
};

struct LogConfig {
  std::string level = "info";  // debug, info, warn, error
  std::string file;            // empty: stderr
};

enum class QueueBackend { kEmbedded, kKafka };

// The async interfaces (push/pop/peek/release) and the outbox; docs/queues.md. The store
// settings (backend, path, kafka) apply at start; the rest also on reload.
struct QueueConfig {
  bool enabled = true;
  QueueBackend backend = QueueBackend::kEmbedded;
  std::string path;  // embedded: data directory (default data/<node_id> beside the config)
  bool sync = true;  // embedded: fsync before acknowledging a push
  uint64_t min_free_disk_bytes = 64ull << 20;  // embedded: pushes refused (503) below this
  std::string kafka_bootstrap;
  std::string kafka_topic_prefix = "ptp";
  std::string kafka_group_id;  // default "<topic_prefix>.<store>.replicas"
  int kafka_replica_index = 0;
  int kafka_replica_count = 1;
  // queue.kafka.pushes: owner (true) or any; which replica takes a peer's push
  // (docs/queues-kafka.md "Replicas").
  bool kafka_pushes_to_owner = true;
  int kafka_partitions = 12;
  int kafka_replication_factor = 3;
  bool kafka_create_topics = true;
  std::map<std::string, std::string> kafka_properties;  // to both clients, as is
  std::map<std::string, std::string> kafka_producer_properties;
  std::map<std::string, std::string> kafka_consumer_properties;
  QueueLimits limits;
  std::chrono::milliseconds default_pop_timeout{120000};  // PTP: "default 120 s"
  std::chrono::milliseconds default_push_wait{5000};      // how long a push waits for space
  std::chrono::seconds outbox_ttl{24 * 3600};  // undelivered remote pushes expire after this
  std::chrono::milliseconds retry_min{200};    // outbox retry backoff, doubling up to retry_max
  std::chrono::milliseconds retry_max{30000};
  // Outbox delivery (docs/queues.md "Node to node: the outbox"): forwards in flight per
  // target node (one per session at a time), and the topic of the sender's own inbox
  // where messages refused for good or expired are put back (dead letters).
  int outbox_concurrency = 8;
  std::string dead_letter_topic = "ptp.dead-letter";
  QueueDialect default_dialect;
  std::map<std::string, QueueDialect> dialects;  // by x-ptp-tech-provider-code
};

// A platform attached by Kafka topics (docs/kafka-attachment.md); read at start.
struct KafkaAttachmentConfig {
  bool enabled() const { return !ingress_topic.empty() || !egress_topic.empty(); }
  std::string bootstrap;
  std::string ingress_topic;  // the platform produces here; consumed and routed like a push
  std::string egress_topic;   // messages for this node are produced here instead of queued
  std::string group_id;       // of the ingress consumer; default "ptp-gateway.<node_id>"
  std::map<std::string, std::string> properties;  // librdkafka, both clients, as is
};

// The router-server conversion job hosted by this gateway (docs/router.md); on when the
// `router_server` section is present. `enabled` and `workers` are read at start.
struct RouterServerConfig {
  bool enabled = false;
  rs::Role role = rs::Role::kA;
  std::string peer_rs_node;  // the other RS; required with combine_at rs_a
  unsigned workers = 0;      // encryption threads; 0: one per core
  std::chrono::seconds job_timeout{300};
  // Jobs (threads) running at once; a job specified beyond them waits in the queue and
  // starts when one ends. Read at each job start (reloadable).
  unsigned max_running_jobs = 256;
  // Of those, the jobs one job source may run at once (so one job source cannot hold every
  // slot with jobs whose shares never come); its further jobs wait while other sources'
  // start. Default: a quarter of max_running_jobs (at least 1), all of them with a single
  // job source. At most max_running_jobs. Read at each job start (reloadable).
  unsigned max_running_jobs_per_source = 64;
  rs::CombineAt combine_at = rs::CombineAt::kRc;
  // Authorization (docs/router.md "Who may start a job"): the nodes whose job specs (topic
  // rs.job) this RS accepts, each with the HE nodes its jobs may deliver the result to.
  // Required, not empty. A source listed without HE nodes may name only itself.
  std::map<std::string, std::vector<std::string>> job_sources;
};

// This node's identity (docs/peering.md): the directory `ptpctl identity init` created,
// with node.key (the node key, 0600), root.crt (the self-signed node root), tls.key and
// tls.crt (the TLS certificate issued by the root, followed by the root). Empty: none.
struct IdentityConfig {
  std::string dir;
  // node.key, loaded with the configuration (at start and on every reload): this node signs
  // its s1 tokens with it. Null without `dir`.
  std::shared_ptr<const NodeKey> node_key;
  std::string node_key_file() const { return dir + "/node.key"; }
  std::string root_cert_file() const { return dir + "/root.crt"; }
  std::string tls_key_file() const { return dir + "/tls.key"; }
  std::string tls_cert_file() const { return dir + "/tls.crt"; }
};

// The peering handshake and the dynamic peer table (docs/peering.md).
struct PeeringConfig {
  bool auto_approve = true;  // a weave with a valid invitation is active at once
  // How long a peering lasts from the handshake (or a renewal); expiry_s, for tests,
  // overrides expiry_days when set.
  int64_t expiry_days = 365;
  int64_t expiry_s = 0;
  int64_t invitation_ttl_s = 3600;  // default lifetime of an invitation
  std::string store;                // empty: <data dir>/peering.json
  int64_t expiry_seconds() const { return expiry_s > 0 ? expiry_s : expiry_days * 86400; }
};

// Permits (docs/authorization.md "Permits"): where this node keeps the permits it issued
// (with their use counts) and those it holds. Read at start.
struct PermitsConfig {
  std::string store;  // permits.store; empty: <data dir>/permits
};

// Per-peer authorization at this node, the resource holder (docs/authorization.md): what
// a partner node may call here. One policy per peer node id, or "*" for every peer
// without its own entry.
struct PeerPolicy {
  std::string node_id;                // a node id, or "*"
  std::vector<Interface> interfaces;  // invoke, transport, push, pop, peek, release
  std::vector<std::string> uris;      // x-ptp-uri globs of local services (local_services' glob)
  std::vector<std::string> topics;    // message-topic globs of pushes from this peer
  bool router_jobs = false;           // may start router jobs at this node's router server
  // Even what the policy allows needs a permit (x-ptp-permit) issued by this node.
  bool require_permit = false;
};
struct AuthorizationConfig {
  bool enabled = false;        // the `authorization` section is present
  bool default_allow = false;  // authorization.default: a peer without a policy (and no "*")
  std::vector<PeerPolicy> peers;
};
// The policy for `node_id`: its own entry, else "*", else nullptr.
const PeerPolicy* find_peer_policy(const AuthorizationConfig& a, std::string_view node_id);

// The admin port's access settings (its address is Config::admin).
struct AdminAccessConfig {
  std::string credential_file;  // admin.credential_file; empty: no operator credential
  std::string token;            // its token, read at load and reload (secret: never logged)
  std::chrono::milliseconds body_timeout{10000};  // admin.body_timeout_ms
  // admin.tls: the admin port speaks TLS; a client certificate verified by client_ca is
  // the operator credential too.
  std::optional<TlsServerConfig> tls;
};

// The crypto profile (docs/security.md "Crypto profiles"): `crypto: international` (the
// default: the node key's algorithm, SHA-256 digests) or `crypto: gm` (SM2 node keys and
// signatures, SM3 for digests, token MACs and the evidence chain).
struct CryptoConfig {
  bool gm = false;
  DigestAlgorithm digest = DigestAlgorithm::kSha256;  // body digests, Merkle trees, chains
};

// The evidence log (docs/evidence.md): on when the `evidence` section is present. The
// section's presence and `dir` are read at start; the rest also applies on reload.
enum class EvidenceOnFailure {
  kRefuse,    // a record that cannot be taken refuses what needed it (E0000000700)
  kContinue,  // traffic goes on without the record (counted, logged)
};
struct EvidenceConfig {
  bool enabled = false;
  std::string dir;                        // empty: <data dir>/evidence
  uint64_t max_file_bytes = 64ull << 20;  // a new file is started beyond this size
  // fdatasync period: the records of the last interval may be lost on a power cut.
  std::chrono::milliseconds sync_interval{200};
  uint32_t queue_records = 65536;  // records held in memory (queued or failing to write)
  EvidenceOnFailure on_failure = EvidenceOnFailure::kRefuse;
  // Message signatures and receipts (docs/evidence.md "Signatures"): parsed here, used by
  // gateway/evidence's batch signer.
  bool sign = true;               // sign messages sent, verify and receipt those received
  bool require_signature = true;  // a message from another node without a signature: 615
  int batch_window_us = 1000;     // a batch is signed this long after its first message ...
  int batch_max = 256;            // ... or when it has this many
  // Whether this node's clients get the receipt (and countersign) of their messages in the
  // answer, or only this node's evidence log keeps it (the default: ~0.5 KiB per answer
  // that platforms do not read, decoded by every client).
  bool receipt_to_client = false;
  // Whether unary messages and their receipts carry a reference to their batch and the
  // batch's statement (x-ptp-statement, x-ptp-receipt-statement: one header value per batch,
  // which HPACK sends once per connection) instead of a full proof each (docs/evidence.md
  // "Batch statements"). False: full proofs (v1), for peers on versions before statements.
  bool batch_statements = true;
};

struct Config {
  std::string source_path;  // file it was read from
  std::string node_id;
  std::string inst_id;
  bool router_role = false;  // forwards between peers for other nodes
  Endpoint listen;
  std::optional<TlsServerConfig> tls;
  GrpcErrors grpc_errors = GrpcErrors::kMessage;  // listen.grpc_errors
  Endpoint admin;
  AdminAccessConfig admin_access;
  unsigned io_threads = 0;  // 0: one per core
  std::chrono::milliseconds reload_poll{1000};
  // On SIGTERM/SIGINT: how long requests already accepted may take to finish.
  std::chrono::milliseconds shutdown_grace{10000};
  LimitsConfig limits;
  ConnectionsConfig connections;
  IdentityConfig identity;
  AuthConfig auth;
  std::vector<PeerConfig> peers;
  // The dynamic peers' states (appended to `peers` by the peering overlay), sorted by node
  // id, for the pipeline's per-request check (a binary search; empty: skipped).
  std::vector<DynamicPeerState> dynamic_peers;
  PeeringConfig peering;
  PermitsConfig permits;
  std::string default_route;  // peer node id used when no peer matches
  std::vector<LocalServiceConfig> local_services;
  LogConfig log;
  QueueConfig queue;
  KafkaAttachmentConfig kafka_attachment;
  RouterServerConfig router_server;
  AuthorizationConfig authorization;
  CryptoConfig crypto;
  EvidenceConfig evidence;
};

// The dialect of a caller: by its vendor code, else the default.
const QueueDialect& queue_dialect(const QueueConfig& q, const std::string& provider_code);

using ConfigPtr = std::shared_ptr<const Config>;

// Parses and validates; on failure returns nullptr and sets `error` to a precise
// message naming the file, the key path and what is wrong.
ConfigPtr load_config(const std::string& path, std::string& error);
ConfigPtr parse_config_text(const std::string& yaml, const std::string& source_name,
                            std::string& error);

// "http2", "grpc", "http1".
std::string_view protocol_name(PeerProtocol p);
// Accepts exactly the names protocol_name() returns; false otherwise.
bool parse_peer_protocol(std::string_view name, PeerProtocol& out);

// The peer entry with this node id, or nullptr.
const PeerConfig* find_peer(const Config& cfg, std::string_view node_id);
// How requests claiming `node_id` as source are authenticated, and which token this node
// sends to it: its peer entry's `auth`, else auth.mode (docs/security.md, "Authentication
// modes").
AuthMode auth_mode_for(const Config& cfg, std::string_view node_id);
// The neighbour a message for `peer` is sent to: `peer` itself when it has an address,
// otherwise the end of its `via` chain. nullptr only for configs that bypassed validation.
const PeerConfig* next_hop_for(const Config& cfg, const PeerConfig& peer);

}  // namespace ptp
