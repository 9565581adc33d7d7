// Configuration sections of the next hops and local services: peers, default_route,
// local_services, and the checks across them.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {
namespace {

constexpr int kMaxViaChain = 8;

TlsClientConfig parse_client_tls(const Section& peer, const FileResolver& files,
                                 const Endpoint& address) {
  Section s(peer.get("tls"), peer.at("tls"),
            {"enabled", "ca", "cert", "key", "server_name", "verify"});
  TlsClientConfig t;
  // Writing a tls section means TLS unless it says enabled: false.
  t.enabled = s.boolean("enabled", true);
  t.verify = s.boolean("verify", true);
  t.server_name = s.string("server_name", "");
  bool has_cert = s.has("cert"), has_key = s.has("key");
  if (has_cert != has_key) {
    fail(s.at(has_cert ? "key" : "cert"), "required key is missing (cert and key go together)");
  }
  if (t.enabled) {
    if (s.has("ca")) t.ca_file = files.readable(s.at("ca"), s.required_string("ca"));
    if (has_cert) {
      t.cert_file = files.readable(s.at("cert"), s.required_string("cert"));
      t.key_file = files.readable(s.at("key"), s.required_string("key"));
    }
    if (t.server_name.empty()) t.server_name = address.host;
  } else {
    t.ca_file = s.string("ca", "");
    t.cert_file = s.string("cert", "");
    t.key_file = s.string("key", "");
  }
  return t;
}

// peers[i].encapsulation (docs/encapsulation.md): none, protobuf or json; a direct peer's.
std::optional<EncapsulatedFormat> peer_encapsulation(const Section& s, const PeerConfig& p) {
  auto v = s.opt_string("encapsulation");
  if (!v || *v == "none") return std::nullopt;
  if (!p.via.empty())
    fail(s.at("encapsulation"),
         "only allowed on a peer with an address (this peer is reached via " + quote_value(p.via) +
             ", whose settings apply)");
  if (*v != "protobuf" && *v != "json")
    fail(s.at("encapsulation"), "expected none, protobuf or json, got " + quote_value(*v));
  if (*v == "json" && p.protocol == PeerProtocol::kGrpc)
    fail(s.at("encapsulation"),
         "json is for http2 and http1 peers; a grpc peer's Inbound is protobuf");
  return *v == "json" ? EncapsulatedFormat::kJson : EncapsulatedFormat::kProtobuf;
}

// peers[i].addresses: two or more distinct host:port, in order of preference.
std::vector<Endpoint> parse_addresses(const Section& s) {
  constexpr size_t kMaxAddresses = 16;
  const std::string path = s.at("addresses");
  YAML::Node list = s.get("addresses");
  if (!list.IsSequence()) fail(path, "expected a list of host:port, got " + kind_name(list));
  if (list.size() < 2 || list.size() > kMaxAddresses)
    fail(path, "expected 2 to " + std::to_string(kMaxAddresses) + " addresses, got " +
                   std::to_string(list.size()) + " (one address: use address)");
  std::vector<Endpoint> out;
  for (size_t j = 0; j < list.size(); ++j) {
    const std::string at = index_path(path, j);
    if (!list[j].IsScalar()) fail(at, "expected host:port, got " + kind_name(list[j]));
    Endpoint ep = parse_host_port(at, list[j].Scalar());
    for (size_t k = 0; k < out.size(); ++k)
      if (out[k].host == ep.host && out[k].port == ep.port)
        fail(at, "duplicate address " + quote_value(ep.to_string()) + " (also " +
                     index_path(path, k) + ")");
    out.push_back(std::move(ep));
  }
  return out;
}

// peers[i].health: the checks of a peer's addresses.
PeerHealthConfig parse_health(const Section& peer) {
  Section s(peer.get("health"), peer.at("health"), {"interval_ms", "timeout_ms", "fall", "rise"});
  PeerHealthConfig h;
  h.interval =
      std::chrono::milliseconds(s.integer("interval_ms", h.interval.count(), 100, 3600000));
  h.timeout = std::chrono::milliseconds(s.integer("timeout_ms", h.timeout.count(), 10, 60000));
  h.fall = static_cast<int>(s.integer("fall", h.fall, 1, 100));
  h.rise = static_cast<int>(s.integer("rise", h.rise, 1, 100));
  if (h.timeout > h.interval)
    fail(s.at("timeout_ms"), "must not exceed interval_ms (" + std::to_string(h.interval.count()) +
                                 "): a check ends before the next one starts");
  return h;
}

bool is_pem_certificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return false;
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  X509_free(cert);
  return cert != nullptr;
}

// A direct peer with a pinned root: TLS is verified against that root only and the leaf
// must name the peer; this node's identity (tls.crt, tls.key) is the client certificate
// unless the tls section names one. Without a tls section, TLS is turned on.
void pin_peer_tls(PeerConfig& p, const IdentityConfig& identity, bool no_tls_section) {
  if (no_tls_section) {
    p.tls.enabled = true;
    p.tls.server_name = p.address->host;
  }
  if (!p.tls.enabled) return;
  p.tls.pinned_root_pem = p.root_pem;
  p.tls.expected_node_id = p.node_id;
  if (p.tls.cert_file.empty() && !identity.dir.empty()) {
    p.tls.cert_file = identity.tls_cert_file();
    p.tls.key_file = identity.tls_key_file();
  }
}

}  // namespace

void parse_peers(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  YAML::Node list = root["peers"];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) fail("peers", "expected a list, got " + kind_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    Section s(list[i], index_path("peers", i),
              {"node_id", "inst_id", "address", "addresses", "health", "via", "protocol",
               "timeout_ms", "connect_timeout_ms", "keepalive_ms", "tls", "async", "encapsulation",
               "grpc_errors", "auth", "root_file", "relay", "countersign"});
    if (!list[i].IsMap()) fail(s.path(), "expected a mapping, got " + kind_name(list[i]));
    PeerConfig p;
    p.node_id = s.required_string("node_id");
    check_id(s.at("node_id"), p.node_id);
    if (p.node_id == cfg.node_id)
      fail(s.at("node_id"), quote_value(p.node_id) + " is this node's own id");
    if (auto inst = s.opt_string("inst_id")) {
      p.inst_id = *inst;
      check_id(s.at("inst_id"), p.inst_id);
    }
    p.async_only = s.boolean("async", false);
    p.grpc_errors = grpc_errors(s, "grpc_errors");
    const bool has_addresses = s.has("addresses");
    if (s.has("address") && has_addresses)
      fail(s.at("addresses"), "give address (one) or addresses (two or more), not both");
    bool has_address = s.has("address") || has_addresses, has_via = s.has("via");
    if (has_address == has_via) {
      fail(s.path(),
           "a peer needs exactly one of address (a direct neighbour) or via (reached "
           "through another peer)");
    }
    if (s.has("health") && !has_addresses)
      fail(s.at("health"),
           "only allowed with addresses (two or more): a peer with one address has nothing to "
           "fail over to");
    if (has_addresses) {
      p.addresses = parse_addresses(s);
      p.address = p.addresses.front();
      p.health = parse_health(s);
      p.choice = std::make_shared<AddressChoice>();
    }
    if (has_address) {
      if (!has_addresses)
        p.address = parse_host_port(s.at("address"), s.required_string("address"));
      p.protocol = protocol(s, "protocol", p.protocol);
      p.timeout = positive_ms(s, "timeout_ms", p.timeout);
      p.connect_timeout = positive_ms(s, "connect_timeout_ms", p.connect_timeout);
      p.keepalive = positive_ms(s, "keepalive_ms", p.keepalive);
      if (s.has("tls")) p.tls = parse_client_tls(s, files, *p.address);
    } else {
      p.via = s.required_string("via");
      check_id(s.at("via"), p.via);
      for (auto key : {"protocol", "timeout_ms", "connect_timeout_ms", "keepalive_ms", "tls"}) {
        if (s.get(key)) {
          fail(s.at(key), "only allowed on a peer with an address (this peer is reached via " +
                              quote_value(p.via) + ", whose settings apply)");
        }
      }
    }
    p.encapsulation = peer_encapsulation(s, p);
    p.auth_mode = auth_mode(s, "auth", cfg.auth.allow_none);
    p.relay = s.boolean("relay", false);
    p.countersign = s.boolean("countersign", false);
    if (s.has("root_file")) {
      p.root_file = files.readable(s.at("root_file"), s.required_string("root_file"));
      std::ifstream in(p.root_file, std::ios::binary);
      p.root_pem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!is_pem_certificate(p.root_pem))
        fail(s.at("root_file"), p.root_file + " holds no PEM certificate");
      if (p.address) pin_peer_tls(p, cfg.identity, !s.has("tls"));
    }
    cfg.peers.push_back(std::move(p));
  }
}

void parse_local_services(const YAML::Node& root, Config& cfg) {
  YAML::Node list = root["local_services"];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) fail("local_services", "expected a list, got " + kind_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    Section s(list[i], index_path("local_services", i),
              {"uri", "address", "protocol", "path", "timeout_ms", "passive"});
    if (!list[i].IsMap()) fail(s.path(), "expected a mapping, got " + kind_name(list[i]));
    LocalServiceConfig svc;
    svc.uri_pattern = s.required_string("uri");
    svc.address = parse_host_port(s.at("address"), s.required_string("address"));
    svc.protocol = protocol(s, "protocol", svc.protocol);
    svc.path = s.string("path", svc.path);
    if (svc.path.empty() || svc.path.front() != '/') {
      fail(s.at("path"), "must start with '/', got " + quote_value(svc.path));
    }
    svc.timeout = positive_ms(s, "timeout_ms", svc.timeout);
    svc.passive = s.boolean("passive", false);
    for (size_t j = 0; j < cfg.local_services.size(); ++j) {
      if (cfg.local_services[j].uri_pattern == svc.uri_pattern) {
        fail(s.at("uri"), "duplicate pattern " + quote_value(svc.uri_pattern) + " (also " +
                              index_path("local_services", j) + ")");
      }
    }
    cfg.local_services.push_back(std::move(svc));
  }
}

// Cross references between peers, checked once all of them are known.
void check_peer_references(Config& cfg) {
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (cfg.peers[j].node_id == cfg.peers[i].node_id) {
        fail(index_path("peers", i) + ".node_id", "duplicate peer " +
                                                      quote_value(cfg.peers[i].node_id) +
                                                      " (also " + index_path("peers", j) + ")");
      }
    }
  }
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    if (cfg.peers[i].via.empty()) continue;
    const std::string path = index_path("peers", i) + ".via";
    std::string chain = cfg.peers[i].node_id;
    const PeerConfig* p = &cfg.peers[i];
    for (int depth = 0; !p->address; ++depth) {
      if (depth >= kMaxViaChain) {
        fail(path, "via chain longer than " + std::to_string(kMaxViaChain) + ": " + chain);
      }
      const PeerConfig* next = find_peer(cfg, p->via);
      if (!next) {
        if (p->via == cfg.node_id) fail(path, "names this node itself (" + chain + ")");
        fail(path,
             "no peer " + quote_value(p->via) + " is configured (" + chain + " -> " + p->via + ")");
      }
      chain += " -> " + next->node_id;
      if (next == &cfg.peers[i]) fail(path, "via cycle: " + chain);
      p = next;
    }
  }
  if (!cfg.default_route.empty()) {
    check_id("default_route", cfg.default_route);
    if (!find_peer(cfg, cfg.default_route)) {
      fail("default_route", "no peer " + quote_value(cfg.default_route) + " is configured");
    }
  }
}

}  // namespace ptp::config_yaml
