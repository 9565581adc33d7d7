#include <doctest/doctest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/config/config.h"
#include "gateway/config/config_store.h"
#include "tests/unit/gateway/config/config_test_support.h"
#include "tests/unit/source_dir.h"
#include "trust/node_key.h"

using namespace ptp;
using ptp::testing::error_of;
using ptp::testing::parse_ok;
namespace fs = std::filesystem;

namespace {

const fs::path kConfDir = ptp::testing::source_dir() / "conf";

// A minimal valid config; tests append or replace parts of it.
const std::string kMinimal = R"(
node: {node_id: A, inst_id: INST_A}
listen: {port: 17304}
auth: {node_keys: {A: "k-a"}}
)";

// A fresh directory removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ptp-config-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path p = path / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p.string();
  }
};

}  // namespace

TEST_CASE("shipped direct configs parse") {
  std::string error;
  ConfigPtr a = load_config((kConfDir / "direct/a.yaml").string(), error);
  INFO(error);
  REQUIRE(a);
  CHECK(a->node_id == "A");
  CHECK(a->inst_id == "INST_A");
  CHECK_FALSE(a->router_role);
  CHECK(a->listen.to_string() == "127.0.0.1:17304");
  CHECK(a->admin.port == 17404);
  REQUIRE(a->peers.size() == 1);
  CHECK(a->peers[0].node_id == "B");
  CHECK(a->peers[0].address->to_string() == "127.0.0.1:17305");
  CHECK(a->peers[0].protocol == PeerProtocol::kHttp2);
  REQUIRE(a->local_services.size() == 1);
  CHECK(a->local_services[0].address.port == 18081);
  CHECK(a->auth.enabled);
  CHECK(a->auth.node_keys.count("B") == 1);

  ConfigPtr b = load_config((kConfDir / "direct/b.yaml").string(), error);
  INFO(error);
  REQUIRE(b);
  CHECK(b->listen.port == 17305);
  CHECK(b->admin.port == 17405);
  REQUIRE(b->local_services.size() == 1);
  CHECK(b->local_services[0].uri_pattern == "ptp/echo*");
  CHECK(b->local_services[0].address.to_string() == "127.0.0.1:18080");
  CHECK(b->local_services[0].protocol == PeerProtocol::kHttp1);
  CHECK(b->local_services[0].path == "/echo");
  CHECK(a->auth.node_keys == b->auth.node_keys);
}

TEST_CASE("shipped routed configs parse and form the A-R1-R2-C topology") {
  std::map<std::string, ConfigPtr> cfgs;
  for (const char* name : {"a", "b", "c", "r1", "r2"}) {
    std::string error;
    ConfigPtr cfg =
        load_config((kConfDir / "routed" / (std::string(name) + ".yaml")).string(), error);
    INFO(name, ": ", error);
    REQUIRE(cfg);
    cfgs[name] = cfg;
  }
  CHECK(cfgs["a"]->default_route == "R1");
  CHECK(cfgs["b"]->default_route == "R1");
  CHECK(cfgs["c"]->default_route == "R2");
  CHECK(cfgs["r1"]->router_role);
  CHECK(cfgs["r2"]->router_role);
  CHECK(cfgs["a"]->listen.port == 17314);
  CHECK(cfgs["b"]->listen.port == 17315);
  CHECK(cfgs["r1"]->listen.port == 17316);
  CHECK(cfgs["r2"]->listen.port == 17317);
  CHECK(cfgs["c"]->listen.port == 17318);
  CHECK(cfgs["r1"]->admin.port == 17416);
  const PeerConfig* c = find_peer(*cfgs["r1"], "C");
  REQUIRE(c);
  CHECK(c->via == "R2");
  REQUIRE(next_hop_for(*cfgs["r1"], *c));
  CHECK(next_hop_for(*cfgs["r1"], *c)->node_id == "R2");
  CHECK(cfgs["c"]->local_services.at(0).address.port == 18082);
  // Every demo gateway knows every demo node's key.
  for (auto& [name, cfg] : cfgs) CHECK(cfg->auth.node_keys.size() == 5);
}

TEST_CASE("peers[i].encapsulation") {
  ConfigPtr cfg = parse_ok(kMinimal +
                           "peers:\n  - {node_id: B, address: \"h:1\", encapsulation: json}\n"
                           "  - {node_id: C, address: \"h:2\", protocol: grpc, encapsulation: "
                           "protobuf}\n  - {node_id: D, address: \"h:3\", encapsulation: none}\n"
                           "  - {node_id: E, address: \"h:4\"}\n");
  CHECK(cfg->peers.at(0).encapsulation == EncapsulatedFormat::kJson);
  CHECK(cfg->peers.at(1).encapsulation == EncapsulatedFormat::kProtobuf);
  CHECK_FALSE(cfg->peers.at(2).encapsulation);
  CHECK_FALSE(cfg->peers.at(3).encapsulation);
}

TEST_CASE("defaults of a minimal config") {
  ConfigPtr cfg = parse_ok(kMinimal);
  CHECK(cfg->source_path == "t.yaml");
  CHECK(cfg->listen.host == "0.0.0.0");
  CHECK(cfg->admin.port == 0);
  CHECK(cfg->io_threads == 0);
  CHECK(cfg->reload_poll == std::chrono::milliseconds(1000));
  CHECK(cfg->shutdown_grace == std::chrono::milliseconds(10000));
  CHECK(cfg->limits.max_body_bytes == 64ull << 20);
  CHECK(cfg->limits.max_hops == 8);
  CHECK(cfg->auth.enabled);
  CHECK(cfg->auth.max_clock_skew == std::chrono::seconds(300));
  CHECK(cfg->auth.max_token_lifetime == std::chrono::seconds(86400));
  CHECK_FALSE(cfg->tls);
  CHECK(cfg->peers.empty());
  CHECK(cfg->log.level == "info");
}

TEST_CASE("every key is read") {
  ConfigPtr cfg = parse_ok(R"(
node: {node_id: "n-1.x:y_z", inst_id: I, role: router}
listen: {address: 0.0.0.0, port: 7304}
admin: {address: 127.0.0.2, port: 7404}
io_threads: 4
reload_poll_ms: 250
shutdown_grace_ms: 0
limits: {max_body_bytes: 1000, max_header_bytes: 2048, max_field_length: 100, max_hops: 3,
         max_concurrent_streams: 10, http1_connections_per_host: 12}
auth: {enabled: false, max_clock_skew_s: 5, max_token_lifetime_s: 600}
peers:
  - {node_id: B, inst_id: IB, address: "[::1]:9000", protocol: grpc, timeout_ms: 7,
     connect_timeout_ms: 8, keepalive_ms: 9, tls: {enabled: false, verify: false}}
  - {node_id: C, via: B}
default_route: C
local_services:
  - {uri: "x/*", address: "localhost:1", protocol: http2, path: /p, timeout_ms: 11}
log: {level: debug, file: /var/log/ptp.log}
)");
  CHECK(cfg->node_id == "n-1.x:y_z");
  CHECK(cfg->router_role);
  CHECK(cfg->admin.host == "127.0.0.2");
  CHECK(cfg->io_threads == 4);
  CHECK(cfg->reload_poll == std::chrono::milliseconds(250));
  CHECK(cfg->shutdown_grace == std::chrono::milliseconds(0));
  CHECK(cfg->limits.max_body_bytes == 1000);
  CHECK(cfg->limits.max_header_bytes == 2048);
  CHECK(cfg->limits.max_field_length == 100);
  CHECK(cfg->limits.max_hops == 3);
  CHECK(cfg->limits.max_concurrent_streams == 10);
  CHECK(cfg->limits.http1_connections_per_host == 12);
  CHECK_FALSE(cfg->auth.enabled);
  CHECK(cfg->auth.max_clock_skew == std::chrono::seconds(5));
  CHECK(cfg->auth.max_token_lifetime == std::chrono::seconds(600));
  const PeerConfig& b = cfg->peers.at(0);
  CHECK(b.address->host == "::1");
  CHECK(b.address->port == 9000);
  CHECK(b.protocol == PeerProtocol::kGrpc);
  CHECK(b.timeout == std::chrono::milliseconds(7));
  CHECK(b.connect_timeout == std::chrono::milliseconds(8));
  CHECK(b.keepalive == std::chrono::milliseconds(9));
  CHECK_FALSE(b.tls.enabled);
  CHECK_FALSE(b.tls.verify);
  CHECK(cfg->peers.at(1).via == "B");
  CHECK_FALSE(cfg->peers.at(1).address);
  CHECK(cfg->default_route == "C");
  CHECK(cfg->local_services.at(0).protocol == PeerProtocol::kHttp2);
  CHECK(cfg->local_services.at(0).timeout == std::chrono::milliseconds(11));
  CHECK(cfg->log.level == "debug");
  CHECK(cfg->log.file == "/var/log/ptp.log");
}

TEST_CASE("validation errors name the file, the key path and the problem") {
  const std::string peers = "\npeers:\n  - {node_id: B, address: \"127.0.0.1:1\"}\n";
  struct Case {
    std::string yaml;
    std::string message;
  };
  const Case cases[] = {
      {kMinimal + peers + "  - {node_id: C, address: \"h:2\", protocol: http3}\n",
       "t.yaml: peers[1].protocol: unknown protocol \"http3\" (expected http2, grpc or http1)"},
      {"listen: {port: 1}\nauth: {enabled: false}\n",
       "t.yaml: node.node_id: required key is missing"},
      {"node: {node_id: A}\nauth: {enabled: false}\n",
       "t.yaml: listen.port: required key is missing"},
      {"node: {node_id: \"A B\"}\nlisten: {port: 1}\n",
       "t.yaml: node.node_id: invalid id \"A B\" (allowed characters: A-Z a-z 0-9 . _ : -)"},
      {"node: {node_id: A, role: hub}\nlisten: {port: 1}\n",
       "t.yaml: node.role: unknown role \"hub\" (expected edge or router)"},
      {"node: {node_id: A}\nlisten: {port: 70000}\n",
       "t.yaml: listen.port: expected an integer from 1 to 65535, got \"70000\""},
      {"node: {node_id: A}\nlisten: {port: 0}\n",
       "t.yaml: listen.port: expected an integer from 1 to 65535, got \"0\""},
      {"node: {node_id: A}\nlisten: {port: abc}\n",
       "t.yaml: listen.port: expected an integer from 1 to 65535, got \"abc\""},
      {kMinimal + "admin: {port: 17304}\n",
       "t.yaml: admin.port: must differ from listen.port (17304)"},
      {kMinimal + "queue: {store: redis}\n",
       "t.yaml: queue.store: expected embedded or kafka, got \"redis\""},
      {kMinimal + "queue: {store: kafka}\n",
       "t.yaml: queue.kafka.bootstrap: required when queue.store is kafka"},
      {kMinimal + "queue: {dialects: {VENDOR: {timeout_unit: minutes}}}\n",
       "t.yaml: queue.dialects.VENDOR.timeout_unit: expected s or ms, got \"minutes\""},
      {kMinimal + "queue: {retry_min_ms: 500, retry_max_ms: 100}\n",
       "t.yaml: queue.retry_max_ms: must be at least retry_min_ms"},
      {"node: {node_id: A}\nlisten: {port: 1}\nauth: {enabled: false, max_token_lifetime_s: 0}\n",
       "t.yaml: auth.max_token_lifetime_s: expected an integer from 1 to 31622400, got \"0\""},
      {kMinimal + peers + "  - {node_id: C, address: \"h:2\", encapsulation: xml}\n",
       "t.yaml: peers[1].encapsulation: expected none, protobuf or json, got \"xml\""},
      {kMinimal + peers +
           "  - {node_id: C, address: \"h:2\", protocol: grpc, encapsulation: json}\n",
       "t.yaml: peers[1].encapsulation: json is for http2 and http1 peers; a grpc peer's Inbound "
       "is "
       "protobuf"},
      {kMinimal + peers + "  - {node_id: C, via: B, encapsulation: json}\n",
       "t.yaml: peers[1].encapsulation: only allowed on a peer with an address (this peer is "
       "reached via \"B\", whose settings apply)"},
      {kMinimal + "io_threads: 257\n",
       "t.yaml: io_threads: expected an integer from 0 to 256, got \"257\""},
      {kMinimal + "io_threads: -1\n",
       "t.yaml: io_threads: expected an integer from 0 to 256, got \"-1\""},
      {kMinimal + "reload_poll_ms: 0\n",
       "t.yaml: reload_poll_ms: expected an integer from 1 to 86400000, got \"0\""},
      {kMinimal + "shutdown_grace_ms: -5\n",
       "t.yaml: shutdown_grace_ms: expected an integer from 0 to 3600000, got \"-5\""},
      {kMinimal + "colour: blue\n",
       "t.yaml: colour: unknown key (expected one of: node, listen, admin, io_threads, "
       "reload_poll_ms, shutdown_grace_ms, limits, connections, identity, auth, peers, "
       "default_route, "
       "local_services, "
       "log, queue, "
       "kafka_attachment, router_server, peering, authorization, crypto, permits, evidence)"},
      {"node: {node_id: A}\nlisten: {port: 1, prot: 2}\n",
       "t.yaml: listen.prot: unknown key (expected one of: address, port, tls, grpc_errors)"},
      {"node: {node_id: A}\nnode: {node_id: B}\nlisten: {port: 1}\n",
       "t.yaml: node: duplicate key"},
      {kMinimal + "limits: {max_hop: 3}\n",
       "t.yaml: limits.max_hop: unknown key (expected one of: max_body_bytes, max_header_bytes, "
       "max_field_length, max_hops, max_concurrent_streams, http1_connections_per_host, "
       "buffered_body_bytes_per_connection, buffered_body_bytes_total)"},
      {kMinimal + "limits: {max_hops: 0}\n",
       "t.yaml: limits.max_hops: expected an integer from 1 to 64, got \"0\""},
      {"node: {node_id: A}\nlisten: {port: 1}\nauth: {enabled: yes please}\n",
       "t.yaml: auth.enabled: expected true or false, got \"yes please\""},
      {"node: {node_id: A}\nlisten: {port: 1}\n",
       "t.yaml: auth.node_keys: no keys configured while auth.enabled is true (every request "
       "would be refused)"},
      {"node: {node_id: A}\nlisten: {port: 1}\nauth: {node_keys: {B: \"\"}}\n",
       "t.yaml: auth.node_keys.B: key must not be empty"},
      {kMinimal + peers + "  - {node_id: B, address: \"127.0.0.1:2\"}\n",
       "t.yaml: peers[1].node_id: duplicate peer \"B\" (also peers[0])"},
      {kMinimal + peers + "  - {node_id: C}\n",
       "t.yaml: peers[1]: a peer needs exactly one of address (a direct neighbour) or via "
       "(reached through another peer)"},
      {kMinimal + peers + "  - {node_id: C, via: B, address: \"h:1\"}\n",
       "t.yaml: peers[1]: a peer needs exactly one of address (a direct neighbour) or via "
       "(reached through another peer)"},
      {kMinimal + peers + "  - {node_id: C, via: Q}\n",
       "t.yaml: peers[1].via: no peer \"Q\" is configured (C -> Q)"},
      {kMinimal + peers + "  - {node_id: C, via: D}\n  - {node_id: D, via: C}\n",
       "t.yaml: peers[1].via: via cycle: C -> D -> C"},
      {kMinimal + peers + "  - {node_id: C, via: A}\n",
       "t.yaml: peers[1].via: names this node itself (C)"},
      {kMinimal + peers + "  - {node_id: C, via: B, protocol: grpc}\n",
       "t.yaml: peers[1].protocol: only allowed on a peer with an address (this peer is reached "
       "via \"B\", whose settings apply)"},
      {kMinimal + peers + "  - {node_id: A, address: \"h:1\"}\n",
       "t.yaml: peers[1].node_id: \"A\" is this node's own id"},
      {kMinimal + peers + "  - {node_id: C, address: \"127.0.0.1\"}\n",
       "t.yaml: peers[1].address: expected \"host:port\" with a port from 1 to 65535, got "
       "\"127.0.0.1\""},
      {kMinimal + peers + "  - {node_id: C, address: \"h:0\"}\n",
       "t.yaml: peers[1].address: expected \"host:port\" with a port from 1 to 65535, got \"h:0\""},
      {kMinimal + peers + "  - {node_id: C, address: \":80\"}\n",
       "t.yaml: peers[1].address: expected \"host:port\" with a port from 1 to 65535, got \":80\""},
      {kMinimal + peers + "  - {node_id: C, address: \"h:1\", timeout_ms: 0}\n",
       "t.yaml: peers[1].timeout_ms: expected an integer from 1 to 86400000, got \"0\""},
      {kMinimal + peers + "  - {node_id: C, address: \"h:1\", connect_timeout_ms: -5}\n",
       "t.yaml: peers[1].connect_timeout_ms: expected an integer from 1 to 86400000, got \"-5\""},
      {kMinimal + peers + "  - {node_id: C, address: \"h:1\", tls: {verfy: false}}\n",
       "t.yaml: peers[1].tls.verfy: unknown key (expected one of: enabled, ca, cert, key, "
       "server_name, verify)"},
      {kMinimal + peers + "default_route: Z\n",
       "t.yaml: default_route: no peer \"Z\" is configured"},
      {kMinimal + "peers: {B: x}\n", "t.yaml: peers: expected a list, got a mapping"},
      {kMinimal + "local_services:\n  - {uri: \"a*\", address: \"h:1\", timeout_ms: 0}\n",
       "t.yaml: local_services[0].timeout_ms: expected an integer from 1 to 86400000, got \"0\""},
      {kMinimal + "local_services:\n  - {uri: \"a*\", address: \"h:1\", path: echo}\n",
       "t.yaml: local_services[0].path: must start with '/', got \"echo\""},
      {kMinimal + "local_services:\n  - {address: \"h:1\"}\n",
       "t.yaml: local_services[0].uri: required key is missing"},
      {kMinimal +
           "local_services:\n  - {uri: \"a*\", address: \"h:1\"}\n  - {uri: \"a*\", address: "
           "\"h:2\"}\n",
       "t.yaml: local_services[1].uri: duplicate pattern \"a*\" (also local_services[0])"},
      {kMinimal + "log: {level: verbose}\n",
       "t.yaml: log.level: unknown level \"verbose\" (expected debug, info, warn or error)"},
      {kMinimal + "listen: {port: 1, tls: {cert: c.pem}}\n", "t.yaml: listen: duplicate key"},
      {"node: {node_id: A}\nlisten: {port: 1, tls: {cert: c.pem}}\n",
       "t.yaml: listen.tls.key: required key is missing (tls needs cert and key)"},
      {"node: [A]\nlisten: {port: 1}\n", "t.yaml: node: expected a mapping, got a list"},
      {"node: {node_id: A}\nlisten: {port: 1}\nauth: {mode: sig, node_keys: {A: k}}\n",
       "t.yaml: auth.mode: unknown mode \"sig\" (expected signature, hmac, passthrough or none)"},
      {"node: {node_id: A}\nlisten: {port: 1}\nauth: {mode: none, node_keys: {A: k}}\n",
       "t.yaml: auth.mode: mode none accepts every request unchecked (tests only); it needs "
       "auth.allow_none: true"},
      {kMinimal + "peers: [{node_id: B, address: \"h:1\", auth: none}]\n",
       "t.yaml: peers[0].auth: mode none accepts every request unchecked (tests only); it needs "
       "auth.allow_none: true"},
      {kMinimal + "identity: {dir: /nonexistent-ptp-identity}\n",
       "t.yaml: identity.dir: file \"/nonexistent-ptp-identity/node.key\" does not exist"},
      {"", "t.yaml: the configuration is empty (node.node_id is required)"},
      {"just a string\n", "t.yaml: expected a mapping, got a scalar \"just a string\""},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    CHECK(error_of(c.yaml) == c.message);
  }
}

TEST_CASE("the key values never appear in error messages") {
  std::string err =
      error_of("node: {node_id: A}\nlisten: {port: 1}\nauth: {node_keys: {B: [s3cr3t]}}\n");
  CHECK(err == "t.yaml: auth.node_keys.B: expected a string key, got a non-scalar value");
  CHECK(err.find("s3cr3t") == std::string::npos);
}

TEST_CASE("YAML syntax errors report line and column") {
  std::string err = error_of("node: {node_id: A}\nlisten:\n  port: [1\n");
  CHECK(err.rfind("t.yaml: line ", 0) == 0);
  CHECK(err.find("YAML syntax error") != std::string::npos);
  err = error_of("node: {node_id: A}\nlisten: {port: 1\n  x: 2\n");
  CHECK(err.find("line ") != std::string::npos);
  CHECK(err.find("column ") != std::string::npos);
}

TEST_CASE("TLS files must exist and are resolved against the config directory") {
  TempDir dir;
  dir.write("cert.pem", "CERT");
  dir.write("key.pem", "KEY");
  dir.write("ca.pem", "CA");
  std::string path = dir.write("gw.yaml", kMinimal +
                                              "listen: {port: 1, tls: {cert: cert.pem, key: "
                                              "key.pem, client_ca: ca.pem}}\n");
  std::string error;
  // listen appears twice in that text: rejected. Write a proper one.
  CHECK_FALSE(load_config(path, error));
  const std::string base = "node: {node_id: A}\nauth: {enabled: false}\n";
  path = dir.write("gw.yaml", base +
                                  "listen: {port: 1, tls: {cert: cert.pem, key: key.pem, "
                                  "client_ca: ca.pem}}\npeers:\n  - {node_id: B, address: "
                                  "\"peer.example:7304\", tls: {ca: ca.pem}}\n");
  ConfigPtr cfg = load_config(path, error);
  INFO(error);
  REQUIRE(cfg);
  REQUIRE(cfg->tls);
  CHECK(cfg->tls->cert_file == (dir.path / "cert.pem").string());
  CHECK(cfg->tls->client_ca_file == (dir.path / "ca.pem").string());
  const PeerConfig& b = cfg->peers.at(0);
  CHECK(b.tls.enabled);  // a tls section means TLS unless enabled: false
  CHECK(b.tls.verify);
  CHECK(b.tls.ca_file == (dir.path / "ca.pem").string());
  CHECK(b.tls.server_name == "peer.example");

  path = dir.write("gw.yaml", base + "listen: {port: 1, tls: {cert: missing.pem, key: key.pem}}\n");
  CHECK_FALSE(load_config(path, error));
  CHECK(error == path + ": listen.tls.cert: file \"missing.pem\" (resolved to \"" +
                     (dir.path / "missing.pem").string() + "\") does not exist");

  fs::create_directory(dir.path / "sub");
  path = dir.write("gw.yaml", base + "listen: {port: 1, tls: {cert: sub, key: key.pem}}\n");
  CHECK_FALSE(load_config(path, error));
  CHECK(error.find("listen.tls.cert: file \"sub\"") != std::string::npos);
  CHECK(error.find("is not a regular file") != std::string::npos);

  path = dir.write("gw.yaml", base +
                                  "listen: {port: 1}\npeers:\n  - {node_id: B, address: \"h:1\", "
                                  "tls: {cert: cert.pem, key: nokey.pem}}\n");
  CHECK_FALSE(load_config(path, error));
  CHECK(error.find("peers[0].tls.key: file \"nokey.pem\"") != std::string::npos);

  path = dir.write("gw.yaml", base +
                                  "listen: {port: 1}\npeers:\n  - {node_id: B, address: \"h:1\", "
                                  "tls: {cert: cert.pem}}\n");
  CHECK_FALSE(load_config(path, error));
  CHECK(error == path + ": peers[0].tls.key: required key is missing (cert and key go together)");

  // A disabled TLS section does not need its files.
  path = dir.write("gw.yaml", base +
                                  "listen: {port: 1}\npeers:\n  - {node_id: B, address: \"h:1\", "
                                  "tls: {enabled: false, ca: nothere.pem}}\n");
  CHECK(load_config(path, error));
}

TEST_CASE("load_config reports unreadable files") {
  std::string error;
  CHECK_FALSE(load_config("/nonexistent/ptp.yaml", error));
  CHECK(error == "/nonexistent/ptp.yaml: cannot read the configuration file (no such file)");
  TempDir dir;
  CHECK_FALSE(load_config(dir.path.string(), error));
  CHECK(error.find("it is a directory") != std::string::npos);
}

TEST_CASE("protocol names round-trip") {
  for (auto p : {PeerProtocol::kHttp2, PeerProtocol::kGrpc, PeerProtocol::kHttp1}) {
    PeerProtocol out{};
    CHECK(parse_peer_protocol(protocol_name(p), out));
    CHECK(out == p);
  }
  PeerProtocol out{};
  CHECK_FALSE(parse_peer_protocol("HTTP2", out));
}

TEST_CASE("ConfigStore reload swaps on success and keeps the old snapshot on failure") {
  TempDir dir;
  const std::string head = "node: {node_id: A}\nlisten: {port: 17304}\nauth: {enabled: false}\n";
  std::string path = dir.write("gw.yaml", head + "log: {level: info}\n");
  std::string error;
  ConfigPtr initial = load_config(path, error);
  REQUIRE(initial);
  ConfigStore store(initial);
  CHECK(store.generation() == 1);
  CHECK(store.current() == initial);

  dir.write("gw.yaml", head + "log: {level: debug}\n");
  CHECK(store.reload(error));
  CHECK(store.generation() == 2);
  ConfigPtr second = store.current();
  CHECK(second->log.level == "debug");
  CHECK(initial->log.level == "info");  // the old snapshot is untouched for its holders

  dir.write("gw.yaml", head + "log: {level: loud}\n");
  CHECK_FALSE(store.reload(error));
  CHECK(error ==
        path + ": log.level: unknown level \"loud\" (expected debug, info, warn or error)");
  CHECK(store.current() == second);
  CHECK(store.generation() == 2);

  dir.write("gw.yaml",
            "node: {node_id: A}\nlisten: {port: 17399}\nauth: {enabled: false}\nio_threads: 3\n");
  CHECK_FALSE(store.reload(error));
  CHECK(error.find("a restart is needed") != std::string::npos);
  CHECK(error.find("listen.port 17304 -> 17399") != std::string::npos);
  CHECK(error.find("io_threads 0 -> 3") != std::string::npos);
  CHECK(store.current() == second);

  fs::remove(path);
  CHECK_FALSE(store.reload(error));
  CHECK(store.current() == second);
}

TEST_CASE("restart_required lists only the restart-bound settings") {
  ConfigPtr a = parse_ok(kMinimal);
  Config b = *a;
  b.peers.push_back(PeerConfig{});
  b.log.level = "debug";
  CHECK(restart_required(*a, b).empty());
  b.admin.port = 9;
  CHECK(restart_required(*a, b).find("admin.port 0 -> 9") != std::string::npos);
  b = *a;
  b.tls = TlsServerConfig{"c", "k", ""};
  CHECK(restart_required(*a, b).find("listen.tls off -> cert=c key=k") != std::string::npos);
}

TEST_CASE("restart_required names the queue store settings the stores were opened with") {
  ConfigPtr a = parse_ok(kMinimal);
  Config b = *a;
  b.queue.limits.max_session_bytes = 5;
  b.queue.limits.dedup_window = std::chrono::seconds(7);
  b.queue.limits.session_idle_expiry = std::chrono::seconds(9);
  const std::string why = restart_required(*a, b);
  CHECK(why.find("queue.limits.max_session_bytes 1073741824 -> 5") != std::string::npos);
  CHECK(why.find("queue.limits.dedup_window_s 3600 -> 7") != std::string::npos);
  CHECK(why.find("queue.limits.session_idle_expiry_s 86400 -> 9") != std::string::npos);
  b = *a;
  b.queue.kafka_properties["sasl.password"] = "hunter2";
  CHECK(restart_required(*a, b).find("queue.kafka") != std::string::npos);
  CHECK(restart_required(*a, b).find("hunter2") == std::string::npos);  // never printed
  b = *a;
  b.kafka_attachment.ingress_topic = "in";
  CHECK(restart_required(*a, b).find("kafka_attachment") != std::string::npos);
  b = *a;
  b.queue.default_pop_timeout = std::chrono::milliseconds(5);  // applies on reload
  b.queue.retry_max = std::chrono::milliseconds(50);
  b.log.file = "/tmp/x.log";
  CHECK(restart_required(*a, b).empty());
}

TEST_CASE("ConfigWatcher reloads when the file changes") {
  TempDir dir;
  const std::string head =
      "node: {node_id: A}\nlisten: {port: 17304}\nauth: {enabled: false}\n"
      "reload_poll_ms: 10\n";
  std::string path = dir.write("gw.yaml", head);
  std::string error;
  ConfigPtr initial = load_config(path, error);
  REQUIRE(initial);
  ConfigStore store(initial);
  boost::asio::io_context io;
  std::vector<std::pair<bool, std::string>> events;
  ConfigWatcher watcher(io.get_executor(), store, [&](bool ok, const std::string& msg) {
    events.emplace_back(ok, msg);
    io.stop();
  });
  io.run_for(std::chrono::milliseconds(50));
  CHECK(events.empty());  // nothing changed, nothing reloaded

  dir.write("gw.yaml", head + "log: {level: warn}\n");
  io.restart();
  io.run_for(std::chrono::seconds(5));
  REQUIRE(events.size() == 1);
  CHECK(events[0].first);
  CHECK(events[0].second.find("generation 2") != std::string::npos);
  CHECK(store.current()->log.level == "warn");

  dir.write("gw.yaml", head + "log: {level: nonsense}\n");
  io.restart();
  io.run_for(std::chrono::seconds(5));
  REQUIRE(events.size() == 2);
  CHECK_FALSE(events[1].first);
  CHECK(events[1].second.find("log.level") != std::string::npos);
  CHECK(store.current()->log.level == "warn");
  CHECK(store.generation() == 2);

  dir.write("gw.yaml", head + "log: {level: error}\n");
  io.restart();
  io.run_for(std::chrono::seconds(5));
  REQUIRE(events.size() == 3);
  CHECK(store.current()->log.level == "error");
  CHECK(store.generation() == 3);

  // SIGHUP reloads even without a change of the file.
  ::raise(SIGHUP);
  io.restart();
  io.run_for(std::chrono::seconds(5));
  REQUIRE(events.size() == 4);
  CHECK(events[3].first);
  CHECK(events[3].second.find("SIGHUP") != std::string::npos);
  CHECK(store.generation() == 4);

  watcher.stop();
  size_t seen = events.size();
  dir.write("gw.yaml", head + "log: {level: debug}\n");
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  CHECK(events.size() == seen);  // stopped: no more reloads or callbacks
  CHECK(store.current()->log.level == "error");
}

TEST_CASE("queue section: defaults, dialects by vendor code") {
  std::string err;
  auto cfg = parse_config_text(kMinimal +
                                   "queue:\n  default_dialect: {timeout_unit: ms}\n"
                                   "  dialects: {FATE: {push_layout: legacy, "
                                   "reply_layout: legacy, peek_removes: true}}\n",
                               "t.yaml", err);
  REQUIRE_MESSAGE(cfg, err);
  CHECK(cfg->queue.enabled);
  CHECK(cfg->queue.backend == QueueBackend::kEmbedded);
  CHECK(cfg->queue.sync);
  CHECK(cfg->queue.default_pop_timeout == std::chrono::seconds(120));
  const QueueDialect& fate = queue_dialect(cfg->queue, "FATE");
  CHECK(fate.legacy_push_layout);
  CHECK(fate.reply_layout == TransportLayout::kLegacy);
  CHECK(fate.peek_removes);
  CHECK(fate.timeout_unit == TimeoutUnit::kMilliseconds);  // inherited from the default
  const QueueDialect& other = queue_dialect(cfg->queue, "OTHER");
  CHECK_FALSE(other.legacy_push_layout);
  CHECK(other.timeout_unit == TimeoutUnit::kMilliseconds);
}

TEST_CASE("queue section: the Kafka store's keys") {
  std::string err;
  auto cfg =
      parse_config_text(kMinimal +
                            "queue:\n  store: kafka\n  kafka:\n    bootstrap: \"k1:9092,k2:9092\"\n"
                            "    replica_count: 3\n    replica_index: 2\n    partitions: 24\n"
                            "    create_topics: false\n    properties: {security.protocol: SSL}\n"
                            "    producer_properties: {linger.ms: \"2\"}\n",
                        "t.yaml", err);
  REQUIRE_MESSAGE(cfg, err);
  CHECK(cfg->queue.backend == QueueBackend::kKafka);
  CHECK(cfg->queue.kafka_bootstrap == "k1:9092,k2:9092");
  CHECK(cfg->queue.kafka_replica_count == 3);
  CHECK(cfg->queue.kafka_replica_index == 2);
  CHECK(cfg->queue.kafka_pushes_to_owner);  // the default: peers' pushes at the owner only
  CHECK(cfg->queue.kafka_partitions == 24);
  CHECK_FALSE(cfg->queue.kafka_create_topics);
  CHECK(cfg->queue.kafka_properties.at("security.protocol") == "SSL");
  CHECK(cfg->queue.kafka_producer_properties.at("linger.ms") == "2");
  // A replica index outside [0, replica_count) is refused with its key path.
  cfg = parse_config_text(
      kMinimal +
          "queue: {store: kafka, kafka: {bootstrap: k, replica_count: 2, replica_index: 2}}\n",
      "t.yaml", err);
  CHECK_FALSE(cfg);
  CHECK(err == "t.yaml: queue.kafka.replica_index: expected an integer from 0 to 1, got \"2\"");
  // pushes: owner or any, nothing else.
  cfg = parse_config_text(kMinimal + "queue: {store: kafka, kafka: {bootstrap: k, pushes: any}}\n",
                          "t.yaml", err);
  REQUIRE_MESSAGE(cfg, err);
  CHECK_FALSE(cfg->queue.kafka_pushes_to_owner);
  cfg = parse_config_text(
      kMinimal + "queue: {store: kafka, kafka: {bootstrap: k, pushes: owners}}\n", "t.yaml", err);
  CHECK_FALSE(cfg);
  CHECK(err == "t.yaml: queue.kafka.pushes: expected owner or any, got \"owners\"");
}

TEST_CASE("kafka_attachment section: topics need a bootstrap; group id default") {
  std::string err;
  auto cfg = parse_config_text(
      kMinimal + "kafka_attachment: {bootstrap: \"k:9092\", ingress_topic: a.in}\n", "t.yaml", err);
  REQUIRE_MESSAGE(cfg, err);
  CHECK(cfg->kafka_attachment.enabled());
  CHECK(cfg->kafka_attachment.ingress_topic == "a.in");
  CHECK(cfg->kafka_attachment.egress_topic.empty());
  CHECK(cfg->kafka_attachment.group_id == "ptp-gateway.A");
  cfg = parse_config_text(kMinimal + "kafka_attachment: {egress_topic: a.out}\n", "t.yaml", err);
  CHECK_FALSE(cfg);
  CHECK(err == "t.yaml: kafka_attachment.bootstrap: required with ingress_topic or egress_topic");
}

TEST_CASE("peers[].async and local_services[].passive") {
  std::string err;
  auto cfg = parse_config_text(
      kMinimal +
          "peers:\n  - {node_id: B, address: \"127.0.0.1:1\", async: true}\n"
          "local_services:\n  - {uri: \"ptp/p*\", address: \"127.0.0.1:2\", passive: true}\n",
      "t.yaml", err);
  REQUIRE_MESSAGE(cfg, err);
  CHECK(cfg->peers.at(0).async_only);
  CHECK(cfg->local_services.at(0).passive);
  cfg = parse_config_text(
      kMinimal + "peers:\n  - {node_id: B, address: \"127.0.0.1:1\", async: yes}\n", "t.yaml", err);
  CHECK_FALSE(cfg);
  CHECK(err == "t.yaml: peers[0].async: expected true or false, got \"yes\"");
}

TEST_CASE("router_server section: role, combine_at, peer, workers, timeout, running jobs") {
  const std::string peers = "peers:\n  - {node_id: RB, address: \"127.0.0.1:1\"}\n";
  auto cfg = parse_ok(kMinimal + "router_server: {role: A, job_sources: [H]}\n");
  CHECK(cfg->router_server.enabled);
  CHECK(cfg->router_server.role == rs::Role::kA);
  CHECK(cfg->router_server.combine_at == rs::CombineAt::kRc);
  CHECK(cfg->router_server.workers == 0);
  CHECK(cfg->router_server.job_timeout == std::chrono::seconds(300));
  CHECK(cfg->router_server.max_running_jobs == 256);
  // One job source may use every slot (nobody to crowd out); with more, a quarter each.
  CHECK(cfg->router_server.max_running_jobs_per_source == 256);
  CHECK(parse_ok(kMinimal + "router_server: {role: A, job_sources: [H, C]}\n")
            ->router_server.max_running_jobs_per_source == 64);
  CHECK(parse_ok(kMinimal + "router_server: {role: A, max_running_jobs: 3, job_sources: [H, C]}\n")
            ->router_server.max_running_jobs_per_source == 1);  // at least 1
  CHECK(parse_ok(kMinimal + "router_server: {role: A, max_running_jobs: 8, "
                            "max_running_jobs_per_source: 8, job_sources: [H, C]}\n")
            ->router_server.max_running_jobs_per_source == 8);
  CHECK_FALSE(parse_ok(kMinimal)->router_server.enabled);
  cfg = parse_ok(kMinimal + peers +
                 "router_server: {role: B, peer_rs_node: RB, workers: 3, job_timeout_s: 20, "
                 "max_running_jobs: 16, combine_at: rs_a, job_sources: {C: [H, H2], H: [H]}}\n");
  CHECK(cfg->router_server.role == rs::Role::kB);
  CHECK(cfg->router_server.combine_at == rs::CombineAt::kRsA);
  CHECK(cfg->router_server.peer_rs_node == "RB");
  CHECK(cfg->router_server.workers == 3);
  CHECK(cfg->router_server.job_timeout == std::chrono::seconds(20));
  CHECK(cfg->router_server.max_running_jobs == 16);
  CHECK(cfg->router_server.max_running_jobs_per_source == 4);  // a quarter, 2 job sources

  CHECK(error_of(kMinimal + "router_server: {workers: 2, job_sources: [H]}\n") ==
        "t.yaml: router_server.role: required key is missing (A or B)");
  CHECK(error_of(kMinimal + "router_server: {role: C, job_sources: [H]}\n") ==
        "t.yaml: router_server.role: unknown role \"C\" (expected A or B)");
  CHECK(error_of(kMinimal + "router_server: {role: A, combine_at: he, job_sources: [H]}\n") ==
        "t.yaml: router_server.combine_at: expected rc or rs_a, got \"he\"");
  CHECK(error_of(kMinimal + "router_server: {role: A, combine_at: rs_a, job_sources: [H]}\n") ==
        "t.yaml: router_server.peer_rs_node: required with combine_at rs_a (the node of the "
        "other router server)");
  CHECK(error_of(kMinimal + "router_server: {role: A, peer_rs_node: RB, job_sources: [H]}\n") ==
        "t.yaml: router_server.peer_rs_node: no peer \"RB\" is configured (and no "
        "default_route)");
  CHECK(error_of(kMinimal + "router_server: {role: A, job_timeout_s: 0, job_sources: [H]}\n") ==
        "t.yaml: router_server.job_timeout_s: expected an integer from 1 to 86400, got \"0\"");
  CHECK(error_of(kMinimal + "router_server: {role: A, max_running_jobs: 0, job_sources: [H]}\n") ==
        "t.yaml: router_server.max_running_jobs: expected an integer from 1 to 4096, got \"0\"");
  CHECK(error_of(kMinimal +
                 "router_server: {role: A, max_running_jobs_per_source: 0, job_sources: [H]}\n") ==
        "t.yaml: router_server.max_running_jobs_per_source: expected an integer from 1 to 4096, "
        "got \"0\"");
  CHECK(error_of(kMinimal + "router_server: {role: A, max_running_jobs: 16, "
                            "max_running_jobs_per_source: 17, job_sources: [H, C]}\n") ==
        "t.yaml: router_server.max_running_jobs_per_source: 17 exceeds max_running_jobs (16), "
        "the jobs running at once of all sources");
  CHECK(error_of(kMinimal +
                 "router_server: {role: A, job_sources: [H]}\nqueue: {enabled: false}\n") ==
        "t.yaml: router_server: needs queue.enabled (jobs arrive as queued messages)");
  CHECK(error_of("node: {node_id: A}\nlisten: {port: 1}\nauth: {node_keys: {B: k}}\n"
                 "router_server: {role: A, job_sources: [H]}\n") ==
        "t.yaml: router_server: deliveries are signed with this node's key: auth.node_keys.A "
        "is required while auth.enabled is true");
  CHECK(error_of(kMinimal + "router_server: {role: A, colour: red}\n") ==
        "t.yaml: router_server.colour: unknown key (expected one of: role, peer_rs_node, "
        "workers, job_timeout_s, max_running_jobs, max_running_jobs_per_source, combine_at, "
        "job_sources)");
  // Job sources: a list (each may name only itself as the HE node) or a mapping.
  CHECK(parse_ok(kMinimal + "router_server: {role: A, job_sources: [H, C]}\n")
            ->router_server.job_sources ==
        std::map<std::string, std::vector<std::string>>{{"C", {"C"}}, {"H", {"H"}}});
  CHECK(cfg->router_server.job_sources ==
        std::map<std::string, std::vector<std::string>>{{"C", {"H", "H2"}}, {"H", {"H"}}});
  CHECK(error_of(kMinimal + "router_server: {role: A}\n") ==
        "t.yaml: router_server.job_sources: required key is missing (the nodes whose job specs "
        "this router server accepts)");
  CHECK(error_of(kMinimal + "router_server: {role: A, job_sources: []}\n") ==
        "t.yaml: router_server.job_sources: must not be empty (expected a list of node ids, or a "
        "mapping from node id to a list of HE node ids)");
  CHECK(error_of(kMinimal + "router_server: {role: A, job_sources: H}\n") ==
        "t.yaml: router_server.job_sources: expected a list of node ids, or a mapping from node "
        "id to a list of HE node ids, got a scalar \"H\"");
  CHECK(error_of(kMinimal + "router_server: {role: A, job_sources: [H, \"a b\"]}\n") ==
        "t.yaml: router_server.job_sources[1]: invalid id \"a b\" (allowed characters: A-Z a-z "
        "0-9 . _ : -)");
  CHECK(error_of(kMinimal + "router_server: {role: A, job_sources: {C: []}}\n") ==
        "t.yaml: router_server.job_sources.C: expected a non-empty list of the HE nodes this "
        "source's jobs may deliver to, got a list");
}

TEST_CASE("connections section: timeouts and the connection limit") {
  ConfigPtr d = parse_ok(kMinimal);
  CHECK(d->connections.first_bytes == std::chrono::milliseconds(10000));
  CHECK(d->connections.tls_handshake == std::chrono::milliseconds(10000));
  CHECK(d->connections.idle == std::chrono::milliseconds(60000));
  CHECK(d->connections.progress == std::chrono::milliseconds(30000));
  CHECK(d->connections.min_progress_bytes == 1024);
  CHECK(d->connections.max_connections == 0);
  ConfigPtr c = parse_ok(kMinimal +
                         "connections: {first_bytes_ms: 100, tls_handshake_ms: 200, idle_ms: 300, "
                         "progress_ms: 400, min_progress_bytes: 10, max_connections: 50}\n");
  CHECK(c->connections.first_bytes == std::chrono::milliseconds(100));
  CHECK(c->connections.tls_handshake == std::chrono::milliseconds(200));
  CHECK(c->connections.idle == std::chrono::milliseconds(300));
  CHECK(c->connections.progress == std::chrono::milliseconds(400));
  CHECK(c->connections.min_progress_bytes == 10);
  CHECK(c->connections.max_connections == 50);
  CHECK(error_of(kMinimal + "connections: {idle_ms: 0}\n") ==
        "t.yaml: connections.idle_ms: expected an integer from 1 to 86400000, got \"0\"");
  CHECK(error_of(kMinimal + "connections: {idle: 5}\n")
            .starts_with("t.yaml: connections.idle: "
                         "unknown key"));
  // Read at start: a reload that changes them is refused.
  Config b = *d;
  b.connections.idle = std::chrono::milliseconds(5);
  CHECK(restart_required(*d, b).find("connections first_bytes_ms=10000") != std::string::npos);
}

// --- Body budgets, stream limit and gRPC error answers (docs/security.md) ---

TEST_CASE("body budgets, concurrent streams and grpc_errors: defaults") {
  ConfigPtr cfg = parse_ok(kMinimal);
  CHECK(cfg->limits.max_concurrent_streams == 100);
  CHECK(cfg->limits.buffered_body_bytes_per_connection == 128ull << 20);
  CHECK(cfg->limits.buffered_body_bytes_total == 512ull << 20);
  CHECK(cfg->grpc_errors == GrpcErrors::kMessage);
  // The budget defaults grow with a larger body limit, so that one body always fits.
  cfg = parse_ok(kMinimal + "limits: {max_body_bytes: 1073741824}\n");
  CHECK(cfg->limits.buffered_body_bytes_per_connection == 1ull << 30);
  CHECK(cfg->limits.buffered_body_bytes_total == 1ull << 30);
}

TEST_CASE("body budgets and grpc_errors are read") {
  ConfigPtr cfg = parse_ok(R"(
node: {node_id: A}
listen: {port: 17304, grpc_errors: status}
auth: {node_keys: {A: "k-a"}}
limits: {max_body_bytes: 1000, buffered_body_bytes_per_connection: 1000,
         buffered_body_bytes_total: 5000}
peers:
  - {node_id: B, address: "127.0.0.1:1", grpc_errors: message}
  - {node_id: C, via: B, grpc_errors: status}
  - {node_id: D, address: "127.0.0.1:2"}
)");
  CHECK(cfg->grpc_errors == GrpcErrors::kStatus);
  CHECK(cfg->limits.buffered_body_bytes_per_connection == 1000);
  CHECK(cfg->limits.buffered_body_bytes_total == 5000);
  CHECK(cfg->peers.at(0).grpc_errors == GrpcErrors::kMessage);
  CHECK(cfg->peers.at(1).grpc_errors == GrpcErrors::kStatus);
  CHECK_FALSE(cfg->peers.at(2).grpc_errors);
}

TEST_CASE("body budgets and grpc_errors: validation") {
  CHECK(error_of(kMinimal + "limits: {max_body_bytes: 1000, buffered_body_bytes_total: 999}\n") ==
        "t.yaml: limits.buffered_body_bytes_total: must be at least limits.max_body_bytes "
        "(1000), or no body of that size fits");
  CHECK(error_of(kMinimal + "limits: {buffered_body_bytes_per_connection: 1024}\n") ==
        "t.yaml: limits.buffered_body_bytes_per_connection: must be at least "
        "limits.max_body_bytes (67108864), or no body of that size fits");
  CHECK(error_of("node: {node_id: A}\nlisten: {port: 1, grpc_errors: trailers}\n") ==
        "t.yaml: listen.grpc_errors: unknown value \"trailers\" (expected message or status)");
  CHECK(error_of(kMinimal + "peers:\n  - {node_id: B, address: \"h:1\", grpc_errors: 2}\n") ==
        "t.yaml: peers[0].grpc_errors: unknown value \"2\" (expected message or status)");
}

TEST_CASE("body budgets need a restart; grpc_errors applies on reload") {
  ConfigPtr a = parse_ok(kMinimal);
  Config b = *a;
  b.grpc_errors = GrpcErrors::kStatus;
  CHECK(restart_required(*a, b).empty());
  b.limits.buffered_body_bytes_total = 1ull << 30;
  CHECK(restart_required(*a, b).find("limits.buffered_body_bytes_total 536870912 -> 1073741824") !=
        std::string::npos);
}

TEST_CASE("peering section: defaults, bounds and the store path") {
  ConfigPtr d = parse_ok(kMinimal);
  CHECK(d->peering.auto_approve);
  CHECK(d->peering.expiry_days == 365);
  CHECK(d->peering.expiry_seconds() == 365 * 86400);
  CHECK(d->peering.invitation_ttl_s == 3600);
  CHECK(d->peering.store.empty());
  ConfigPtr c = parse_ok(kMinimal +
                         "peering: {auto_approve: false, expiry_days: 2, expiry_s: 30, "
                         "invitation_ttl_s: 60, store: /var/lib/ptp/peers.json}\n");
  CHECK_FALSE(c->peering.auto_approve);
  CHECK(c->peering.expiry_seconds() == 30);
  CHECK(c->peering.invitation_ttl_s == 60);
  CHECK(c->peering.store == "/var/lib/ptp/peers.json");
  CHECK(error_of(kMinimal + "peering: {expiry_days: 0}\n") ==
        "t.yaml: peering.expiry_days: expected an integer from 1 to 36500, got \"0\"");
  CHECK(error_of(kMinimal + "peering: {ttl: 3}\n").find("peering.ttl: unknown key") !=
        std::string::npos);
}

TEST_CASE("peers[i].root_file pins the peer's TLS: on by default, this node's identity as client") {
  TempDir dir;
  const std::string pem =
      "-----BEGIN CERTIFICATE-----\n"
      "MIIBfDCCASOgAwIBAgIUacMf9mIz+tJvxC31WCfkAtujI10wCgYIKoZIzj0EAwIw\n"
      "FDESMBAGA1UEAwwJdGVzdC1yb290MB4XDTI2MTIwNDIzNTUyOFoXDTM2MTIwMTIz\n"
      "NTUyOFowFDESMBAGA1UEAwwJdGVzdC1yb290MFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
      "AQcDQgAEJjtJYI+Oakv6UNZejrjQou0EG+1o/usIVXMr+LA0plfZ1HS7gz2xfgKn\n"
      "xg+xZZK6BCkUsRf24issl5xyQ3lg7KNTMFEwHQYDVR0OBBYEFK7eWDxxv80DwT36\n"
      "Q7DfWBebfSpVMB8GA1UdIwQYMBaAFK7eWDxxv80DwT36Q7DfWBebfSpVMA8GA1Ud\n"
      "EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgcWXFAmi70+gieRjm+i8KAif0\n"
      "1+bi8G9EU9WH8LOr7hICIEXxz6/an3AX9J/ZHXHnT3yy6vywnbOVcOa/aJ1reDrk\n"
      "-----END CERTIFICATE-----\n";
  const std::string root = dir.write("b-root.crt", pem);
  const std::string junk = dir.write("junk.crt", "not a certificate\n");
  fs::create_directory(dir.path / "id");
  for (auto f : {"root.crt", "tls.key", "tls.crt"}) dir.write(std::string("id/") + f, "x");
  const std::string id = (dir.path / "id").string();
  std::string key_error;
  auto node_key = NodeKey::generate(KeyAlgorithm::kEcdsaP256, key_error);
  REQUIRE(node_key);
  REQUIRE(node_key->save_pem_file(id + "/node.key", key_error));
  auto cfg =
      parse_ok(kMinimal + "identity: {dir: " + id + "}\npeers:\n" +
               "  - {node_id: B, address: \"127.0.0.1:9\", root_file: " + root + "}\n" +
               "  - {node_id: C, address: \"127.0.0.1:8\", root_file: " + root +
               ", tls: {enabled: false}}\n" + "  - {node_id: D, address: \"127.0.0.1:7\"}\n");
  const TlsClientConfig& b = cfg->peers.at(0).tls;
  CHECK(b.enabled);
  CHECK(b.pinned_root_pem == pem);
  CHECK(b.expected_node_id == "B");
  CHECK(b.cert_file == id + "/tls.crt");
  CHECK(b.key_file == id + "/tls.key");
  CHECK(b.server_name == "127.0.0.1");
  CHECK_FALSE(cfg->peers.at(1).tls.enabled);  // written off stays off
  CHECK(cfg->peers.at(1).tls.pinned_root_pem.empty());
  CHECK_FALSE(cfg->peers.at(2).tls.enabled);  // no root, no tls section: plaintext as before
  CHECK(error_of(kMinimal + "peers:\n  - {node_id: B, address: \"h:1\", root_file: " + junk +
                 "}\n") == "t.yaml: peers[0].root_file: " + junk + " holds no PEM certificate");
  // identity.dir is restart-bound: the port's TLS and the client certificate come from it.
  Config moved = *cfg;
  moved.identity.dir = "/elsewhere";
  CHECK(restart_required(*cfg, moved).find("identity.dir") != std::string::npos);
}

TEST_CASE("config: crypto profile, international by default, gm selects SM3") {
  ConfigPtr def = parse_ok(kMinimal);
  CHECK_FALSE(def->crypto.gm);
  CHECK(def->crypto.digest == DigestAlgorithm::kSha256);
  ConfigPtr gm = parse_ok(kMinimal + "crypto: gm\n");
  CHECK(gm->crypto.gm);
  CHECK(gm->crypto.digest == DigestAlgorithm::kSm3);
  CHECK(error_of(kMinimal + "crypto: rsa\n").find("crypto: unknown profile") != std::string::npos);
}
