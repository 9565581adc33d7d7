// YAML -> validated Config. Every rejection names the file, the key path and the problem;
// unknown keys are errors so that a typo never silently falls back to a default.
#include "gateway/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

namespace ptp {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxIdLength = 128;
constexpr int kMaxViaChain = 8;

// Thrown inside this file only; the entry points turn it into the error string.
struct ConfigError {
  std::string path;
  std::string message;
};

[[noreturn]] void fail(const std::string& path, std::string message) {
  throw ConfigError{path, std::move(message)};
}

// A value quoted for an error message: printable, bounded in length.
std::string quote_value(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

std::string kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar " + quote_value(n.Scalar());
    default:
      return "nothing";
  }
}

// A mapping whose keys are checked against the allowed ones (and for duplicates).
class Section {
 public:
  Section(const YAML::Node& node, std::string path, std::initializer_list<std::string_view> allowed)
      // A missing key yields yaml-cpp's "zombie" node, which throws on inspection: store a
      // plain null node instead.
      : node_(node ? node : YAML::Node()), path_(std::move(path)) {
    if (!node_ || node_.IsNull()) return;  // an absent or empty section: all defaults
    if (!node_.IsMap()) fail(path_, "expected a mapping, got " + kind_name(node_));
    std::set<std::string> seen;
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar()) fail(path_, "keys must be plain strings");
      const std::string& key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string expected;
        for (auto a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
        fail(at(key), "unknown key (expected one of: " + expected + ")");
      }
      if (!seen.insert(key).second) fail(at(key), "duplicate key");
    }
  }

  const std::string& path() const { return path_; }
  std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  // Present with a non-null value.
  bool has(std::string_view key) const {
    if (!node_.IsMap()) return false;
    YAML::Node v = node_[std::string(key)];
    return v && !v.IsNull();
  }
  YAML::Node get(std::string_view key) const {
    return node_.IsMap() ? node_[std::string(key)] : YAML::Node();
  }

  std::optional<std::string> opt_string(std::string_view key) const {
    if (!node_.IsMap()) return std::nullopt;
    YAML::Node v = node_[std::string(key)];
    if (!v) return std::nullopt;
    if (v.IsNull()) fail(at(key), "missing value");
    if (!v.IsScalar()) fail(at(key), "expected a string, got " + kind_name(v));
    return v.Scalar();
  }
  std::string string(std::string_view key, std::string def) const {
    return opt_string(key).value_or(std::move(def));
  }
  std::string required_string(std::string_view key) const {
    auto v = opt_string(key);
    if (!v) fail(at(key), "required key is missing");
    if (v->empty()) fail(at(key), "must not be empty");
    return *v;
  }

  int64_t integer(std::string_view key, int64_t def, int64_t min, int64_t max) const {
    auto s = opt_string(key);
    if (!s) return def;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || end != s->data() + s->size() || v < min || v > max) {
      fail(at(key), "expected an integer from " + std::to_string(min) + " to " +
                        std::to_string(max) + ", got " + quote_value(*s));
    }
    return v;
  }

  bool boolean(std::string_view key, bool def) const {
    auto s = opt_string(key);
    if (!s) return def;
    if (*s == "true" || *s == "True" || *s == "TRUE") return true;
    if (*s == "false" || *s == "False" || *s == "FALSE") return false;
    fail(at(key), "expected true or false, got " + quote_value(*s));
  }

 private:
  YAML::Node node_;
  std::string path_;
};

std::string index_path(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

void check_id(const std::string& path, const std::string& id) {
  if (id.empty()) fail(path, "must not be empty");
  if (id.size() > kMaxIdLength) {
    fail(path, "longer than " + std::to_string(kMaxIdLength) + " characters");
  }
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok)
      fail(path, "invalid id " + quote_value(id) + " (allowed characters: A-Z a-z 0-9 . _ : -)");
  }
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::none_of(host.begin(), host.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '[' || c == ']' || c == '@' ||
           c == '?' || c == '#' || c == 0x7f;
  });
}

bool parse_port(std::string_view s, uint16_t& out) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

// "host:port" or "[v6]:port".
Endpoint parse_host_port(const std::string& path, const std::string& s) {
  const std::string expected =
      "expected \"host:port\" with a port from 1 to 65535, got " + quote_value(s);
  Endpoint ep;
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      fail(path, expected);
    }
    host = std::string_view(s).substr(1, close - 1);
    port = std::string_view(s).substr(close + 2);
    if (host.find(':') == std::string_view::npos) fail(path, expected);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) fail(path, expected);
    host = std::string_view(s).substr(0, colon);
    port = std::string_view(s).substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      fail(path, expected + " (write IPv6 as [addr]:port)");
  }
  if (!valid_host(host) || !parse_port(port, ep.port)) fail(path, expected);
  ep.host = std::string(host);
  return ep;
}

std::chrono::milliseconds positive_ms(const Section& s, std::string_view key,
                                      std::chrono::milliseconds def) {
  constexpr int64_t kMaxMs = 24LL * 3600 * 1000;  // one day
  return std::chrono::milliseconds(s.integer(key, def.count(), 1, kMaxMs));
}

PeerProtocol protocol(const Section& s, std::string_view key, PeerProtocol def) {
  auto v = s.opt_string(key);
  if (!v) return def;
  PeerProtocol p{};
  if (!parse_peer_protocol(*v, p)) {
    fail(s.at(key), "unknown protocol " + quote_value(*v) + " (expected http2, grpc or http1)");
  }
  return p;
}

// Resolves `file` against the config file's directory and checks it can be read.
class FileResolver {
 public:
  explicit FileResolver(fs::path base) : base_(std::move(base)) {}

  std::string path(const std::string& file) const {
    fs::path p(file);
    if (p.is_relative() && !base_.empty()) p = base_ / p;
    return p.lexically_normal().string();
  }

  std::string readable(const std::string& key_path, const std::string& file) const {
    if (file.empty()) fail(key_path, "must not be empty");
    std::string resolved = path(file);
    std::string shown = quote_value(file);
    if (resolved != file) shown += " (resolved to " + quote_value(resolved) + ")";
    std::error_code ec;
    auto st = fs::status(resolved, ec);
    if (ec || !fs::exists(st)) fail(key_path, "file " + shown + " does not exist");
    if (!fs::is_regular_file(st)) fail(key_path, "file " + shown + " is not a regular file");
    std::ifstream in(resolved, std::ios::binary);
    if (!in) fail(key_path, "file " + shown + " is not readable");
    return resolved;
  }

 private:
  fs::path base_;
};

void parse_node_section(const YAML::Node& root, Config& cfg) {
  Section s(root["node"], "node", {"node_id", "inst_id", "role"});
  if (!s.has("node_id")) fail("node.node_id", "required key is missing");
  cfg.node_id = s.required_string("node_id");
  check_id(s.at("node_id"), cfg.node_id);
  if (auto inst = s.opt_string("inst_id")) {
    cfg.inst_id = *inst;
    check_id(s.at("inst_id"), cfg.inst_id);
  }
  std::string role = s.string("role", "edge");
  if (role == "edge") {
    cfg.router_role = false;
  } else if (role == "router") {
    cfg.router_role = true;
  } else {
    fail(s.at("role"), "unknown role " + quote_value(role) + " (expected edge or router)");
  }
}

// --- Request body budgets and gRPC error answers (docs/security.md) ---

std::optional<GrpcErrors> grpc_errors(const Section& s, std::string_view key) {
  auto v = s.opt_string(key);
  if (!v) return std::nullopt;
  GrpcErrors e{};
  if (!parse_grpc_errors(*v, e))
    fail(s.at(key), "unknown value " + quote_value(*v) + " (expected message or status)");
  return e;
}

// Each budget must hold at least one body of max_body_bytes; the defaults grow with it.
void parse_body_budgets(const Section& s, LimitsConfig& l) {
  auto budget = [&](std::string_view key, uint64_t def) {
    if (!s.has(key)) return std::max(def, l.max_body_bytes);
    auto v = static_cast<uint64_t>(s.integer(key, 0, 1, 1LL << 50));
    if (v < l.max_body_bytes)
      fail(s.at(key), "must be at least limits.max_body_bytes (" +
                          std::to_string(l.max_body_bytes) + "), or no body of that size fits");
    return v;
  };
  l.buffered_body_bytes_per_connection =
      budget("buffered_body_bytes_per_connection", l.buffered_body_bytes_per_connection);
  l.buffered_body_bytes_total = budget("buffered_body_bytes_total", l.buffered_body_bytes_total);
}

void parse_listen(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(root["listen"], "listen", {"address", "port", "tls", "grpc_errors"});
  cfg.listen.host = s.string("address", "0.0.0.0");
  if (!valid_host(cfg.listen.host))
    fail(s.at("address"), "invalid host " + quote_value(cfg.listen.host));
  if (!s.has("port")) fail(s.at("port"), "required key is missing");
  cfg.listen.port = static_cast<uint16_t>(s.integer("port", 0, 1, 65535));
  if (s.has("tls")) {
    Section t(s.get("tls"), s.at("tls"), {"cert", "key", "client_ca"});
    TlsServerConfig tls;
    if (!t.has("cert")) fail(t.at("cert"), "required key is missing (tls needs cert and key)");
    if (!t.has("key")) fail(t.at("key"), "required key is missing (tls needs cert and key)");
    tls.cert_file = files.readable(t.at("cert"), t.required_string("cert"));
    tls.key_file = files.readable(t.at("key"), t.required_string("key"));
    if (t.has("client_ca")) {
      tls.client_ca_file = files.readable(t.at("client_ca"), t.required_string("client_ca"));
    }
    cfg.tls = std::move(tls);
  }
  cfg.grpc_errors = grpc_errors(s, "grpc_errors").value_or(cfg.grpc_errors);
}

void parse_admin(const YAML::Node& root, Config& cfg) {
  Section s(root["admin"], "admin", {"address", "port"});
  cfg.admin.host = s.string("address", "127.0.0.1");
  if (!valid_host(cfg.admin.host))
    fail(s.at("address"), "invalid host " + quote_value(cfg.admin.host));
  // Port 0 (or no admin section): the admin listener is disabled.
  cfg.admin.port = static_cast<uint16_t>(s.integer("port", 0, 0, 65535));
  if (cfg.admin.port != 0 && cfg.admin.port == cfg.listen.port) {
    fail(s.at("port"), "must differ from listen.port (" + std::to_string(cfg.listen.port) + ")");
  }
}

void parse_limits(const YAML::Node& root, Config& cfg) {
  Section s(root["limits"], "limits",
            {"max_body_bytes", "max_header_bytes", "max_field_length", "max_hops",
             "max_concurrent_streams", "http1_connections_per_host",
             "buffered_body_bytes_per_connection", "buffered_body_bytes_total"});
  LimitsConfig& l = cfg.limits;
  constexpr int64_t kU32 = 0xffffffffLL;
  l.max_body_bytes = static_cast<uint64_t>(
      s.integer("max_body_bytes", static_cast<int64_t>(l.max_body_bytes), 1, 1LL << 40));
  l.max_header_bytes = static_cast<uint64_t>(
      s.integer("max_header_bytes", static_cast<int64_t>(l.max_header_bytes), 1024, 16LL << 20));
  l.max_field_length =
      static_cast<uint32_t>(s.integer("max_field_length", l.max_field_length, 16, 1 << 20));
  l.max_hops = static_cast<uint32_t>(s.integer("max_hops", l.max_hops, 1, 64));
  l.max_concurrent_streams =
      static_cast<uint32_t>(s.integer("max_concurrent_streams", l.max_concurrent_streams, 1, kU32));
  l.http1_connections_per_host = static_cast<uint32_t>(
      s.integer("http1_connections_per_host", l.http1_connections_per_host, 1, 65535));
  parse_body_budgets(s, l);
}

void parse_connections(const YAML::Node& root, Config& cfg) {
  Section s(root["connections"], "connections",
            {"first_bytes_ms", "tls_handshake_ms", "idle_ms", "progress_ms", "min_progress_bytes",
             "max_connections"});
  ConnectionsConfig& c = cfg.connections;
  c.first_bytes = positive_ms(s, "first_bytes_ms", c.first_bytes);
  c.tls_handshake = positive_ms(s, "tls_handshake_ms", c.tls_handshake);
  c.idle = positive_ms(s, "idle_ms", c.idle);
  c.progress = positive_ms(s, "progress_ms", c.progress);
  c.min_progress_bytes =
      static_cast<uint32_t>(s.integer("min_progress_bytes", c.min_progress_bytes, 1, 1 << 20));
  c.max_connections = static_cast<uint64_t>(
      s.integer("max_connections", static_cast<int64_t>(c.max_connections), 0, 1LL << 24));
}

// auth.max_token_lifetime_s: at most a year.
constexpr int64_t kMaxTokenLifetimeS = 366 * 24 * 3600;

void parse_auth(const YAML::Node& root, Config& cfg) {
  Section s(root["auth"], "auth",
            {"enabled", "max_clock_skew_s", "max_token_lifetime_s", "node_keys"});
  AuthConfig& a = cfg.auth;
  a.enabled = s.boolean("enabled", a.enabled);
  a.max_clock_skew =
      std::chrono::seconds(s.integer("max_clock_skew_s", a.max_clock_skew.count(), 0, 24 * 3600));
  a.max_token_lifetime = std::chrono::seconds(
      s.integer("max_token_lifetime_s", a.max_token_lifetime.count(), 1, kMaxTokenLifetimeS));
  YAML::Node keys = s.get("node_keys");
  const std::string kpath = s.at("node_keys");
  if (keys && !keys.IsNull()) {
    if (!keys.IsMap()) fail(kpath, "expected a mapping of node id to key, got " + kind_name(keys));
    for (const auto& kv : keys) {
      if (!kv.first.IsScalar()) fail(kpath, "keys must be node ids");
      const std::string& node = kv.first.Scalar();
      const std::string path = kpath + "." + node;
      check_id(path, node);
      // Never quote the value: it is a secret.
      if (!kv.second.IsScalar()) fail(path, "expected a string key, got a non-scalar value");
      if (kv.second.Scalar().empty()) fail(path, "key must not be empty");
      if (!a.node_keys.emplace(node, kv.second.Scalar()).second) fail(path, "duplicate node id");
    }
  }
  if (a.enabled && a.node_keys.empty()) {
    fail(kpath, "no keys configured while auth.enabled is true (every request would be refused)");
  }
}

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

void parse_peers(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  YAML::Node list = root["peers"];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) fail("peers", "expected a list, got " + kind_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    Section s(
        list[i], index_path("peers", i),
        {"node_id", "inst_id", "address", "via", "protocol", "timeout_ms", "connect_timeout_ms",
         "keepalive_ms", "tls", "async", "encapsulation", "grpc_errors"});
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
    bool has_address = s.has("address"), has_via = s.has("via");
    if (has_address == has_via) {
      fail(s.path(),
           "a peer needs exactly one of address (a direct neighbour) or via (reached "
           "through another peer)");
    }
    if (has_address) {
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

void parse_log(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(root["log"], "log", {"level", "file"});
  cfg.log.level = s.string("level", cfg.log.level);
  static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), cfg.log.level) == std::end(kLevels)) {
    fail(s.at("level"),
         "unknown level " + quote_value(cfg.log.level) + " (expected debug, info, warn or error)");
  }
  std::string file = s.string("file", "");
  if (!file.empty()) cfg.log.file = files.path(file);
}

QueueDialect parse_dialect(const Section& s, QueueDialect d) {
  if (auto v = s.opt_string("push_layout")) {
    if (*v != "current" && *v != "legacy")
      fail(s.at("push_layout"), "expected current or legacy, got " + quote_value(*v));
    d.legacy_push_layout = *v == "legacy";
  }
  if (auto v = s.opt_string("reply_layout")) {
    if (*v != "current" && *v != "legacy")
      fail(s.at("reply_layout"), "expected current or legacy, got " + quote_value(*v));
    d.reply_layout = *v == "legacy" ? TransportLayout::kLegacy : TransportLayout::kCurrent;
  }
  if (auto v = s.opt_string("timeout_unit")) {
    if (*v != "s" && *v != "ms")
      fail(s.at("timeout_unit"), "expected s or ms, got " + quote_value(*v));
    d.timeout_unit = *v == "ms" ? TimeoutUnit::kMilliseconds : TimeoutUnit::kSeconds;
  }
  d.peek_removes = s.boolean("peek_removes", d.peek_removes);
  return d;
}

// A mapping of strings (e.g. librdkafka properties), passed on as is.
void parse_string_map(const Section& s, const char* key, std::map<std::string, std::string>& out) {
  YAML::Node m = s.get(key);
  if (!m || m.IsNull()) return;
  if (!m.IsMap()) fail(s.at(key), "expected a mapping, got " + kind_name(m));
  for (const auto& kv : m) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar())
      fail(s.at(key), "expected name: value pairs of strings");
    out[kv.first.Scalar()] = kv.second.Scalar();
  }
}

void parse_queue(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(
      root["queue"], "queue",
      {"enabled", "store", "path", "sync", "min_free_disk_bytes", "kafka", "limits",
       "default_pop_timeout_ms", "default_push_wait_ms", "outbox_ttl_s", "retry_min_ms",
       "retry_max_ms", "outbox_concurrency", "dead_letter_topic", "default_dialect", "dialects"});
  QueueConfig& q = cfg.queue;
  q.enabled = s.boolean("enabled", q.enabled);
  std::string store = s.string("store", "embedded");
  if (store != "embedded" && store != "kafka")
    fail(s.at("store"), "expected embedded or kafka, got " + quote_value(store));
  q.backend = store == "kafka" ? QueueBackend::kKafka : QueueBackend::kEmbedded;
  q.path = files.path(s.string("path", "data/" + cfg.node_id));
  q.sync = s.boolean("sync", q.sync);
  q.min_free_disk_bytes = static_cast<uint64_t>(
      s.integer("min_free_disk_bytes", static_cast<int64_t>(q.min_free_disk_bytes), 0, 1LL << 50));
  {
    Section k(s.get("kafka"), s.at("kafka"),
              {"bootstrap", "topic_prefix", "group_id", "replica_index", "replica_count",
               "partitions", "replication_factor", "create_topics", "properties",
               "producer_properties", "consumer_properties"});
    q.kafka_bootstrap = k.string("bootstrap", "");
    q.kafka_topic_prefix = k.string("topic_prefix", q.kafka_topic_prefix);
    q.kafka_group_id = k.string("group_id", "");
    q.kafka_replica_count =
        static_cast<int>(k.integer("replica_count", q.kafka_replica_count, 1, 1024));
    q.kafka_replica_index = static_cast<int>(
        k.integer("replica_index", q.kafka_replica_index, 0, q.kafka_replica_count - 1));
    q.kafka_partitions = static_cast<int>(k.integer("partitions", q.kafka_partitions, 1, 10000));
    q.kafka_replication_factor =
        static_cast<int>(k.integer("replication_factor", q.kafka_replication_factor, 1, 100));
    q.kafka_create_topics = k.boolean("create_topics", q.kafka_create_topics);
    parse_string_map(k, "properties", q.kafka_properties);
    parse_string_map(k, "producer_properties", q.kafka_producer_properties);
    parse_string_map(k, "consumer_properties", q.kafka_consumer_properties);
    if (q.backend == QueueBackend::kKafka && q.kafka_bootstrap.empty())
      fail(k.at("bootstrap"), "required when queue.store is kafka");
  }
  {
    Section l(s.get("limits"), s.at("limits"),
              {"max_message_bytes", "max_session_bytes", "max_total_bytes", "session_idle_expiry_s",
               "dedup_window_s", "dedup_max_ids", "max_session_messages"});
    QueueLimits& ql = q.limits;
    ql.max_message_bytes = static_cast<uint64_t>(
        l.integer("max_message_bytes", static_cast<int64_t>(ql.max_message_bytes), 1, 1LL << 40));
    ql.max_session_bytes = static_cast<uint64_t>(
        l.integer("max_session_bytes", static_cast<int64_t>(ql.max_session_bytes), 1, 1LL << 50));
    ql.max_total_bytes = static_cast<uint64_t>(
        l.integer("max_total_bytes", static_cast<int64_t>(ql.max_total_bytes), 1, 1LL << 50));
    ql.session_idle_expiry = std::chrono::seconds(
        l.integer("session_idle_expiry_s", ql.session_idle_expiry.count(), 1, 365LL * 24 * 3600));
    ql.dedup_window = std::chrono::seconds(
        l.integer("dedup_window_s", ql.dedup_window.count(), 0, 30LL * 24 * 3600));
    ql.dedup_max_ids = static_cast<size_t>(
        l.integer("dedup_max_ids", static_cast<int64_t>(ql.dedup_max_ids), 0, 1'000'000'000LL));
    ql.max_session_messages = static_cast<uint64_t>(l.integer(
        "max_session_messages", static_cast<int64_t>(ql.max_session_messages), 1, 1LL << 40));
  }
  q.default_pop_timeout = std::chrono::milliseconds(
      s.integer("default_pop_timeout_ms", q.default_pop_timeout.count(), 0, 24LL * 3600 * 1000));
  q.default_push_wait = std::chrono::milliseconds(
      s.integer("default_push_wait_ms", q.default_push_wait.count(), 0, 24LL * 3600 * 1000));
  q.outbox_ttl =
      std::chrono::seconds(s.integer("outbox_ttl_s", q.outbox_ttl.count(), 1, 365LL * 24 * 3600));
  q.retry_min = positive_ms(s, "retry_min_ms", q.retry_min);
  q.retry_max = positive_ms(s, "retry_max_ms", q.retry_max);
  if (q.retry_max < q.retry_min) fail(s.at("retry_max_ms"), "must be at least retry_min_ms");
  // Outbox delivery and dead letters.
  q.outbox_concurrency =
      static_cast<int>(s.integer("outbox_concurrency", q.outbox_concurrency, 1, 1024));
  q.dead_letter_topic = s.string("dead_letter_topic", q.dead_letter_topic);
  if (q.dead_letter_topic.empty() || q.dead_letter_topic.size() > 256 ||
      std::any_of(q.dead_letter_topic.begin(), q.dead_letter_topic.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    fail(s.at("dead_letter_topic"), "must be 1 to 256 characters, no spaces or control characters");
  q.default_dialect =
      parse_dialect(Section(s.get("default_dialect"), s.at("default_dialect"),
                            {"push_layout", "reply_layout", "timeout_unit", "peek_removes"}),
                    q.default_dialect);
  YAML::Node ds = s.get("dialects");
  if (ds && !ds.IsNull()) {
    if (!ds.IsMap())
      fail(s.at("dialects"), "expected a mapping of vendor code to dialect, got " + kind_name(ds));
    for (const auto& kv : ds) {
      if (!kv.first.IsScalar()) fail(s.at("dialects"), "keys must be vendor codes");
      const std::string path = s.at("dialects") + "." + kv.first.Scalar();
      q.dialects[kv.first.Scalar()] = parse_dialect(
          Section(kv.second, path, {"push_layout", "reply_layout", "timeout_unit", "peek_removes"}),
          q.default_dialect);
    }
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

void parse_kafka_attachment(const YAML::Node& root, Config& cfg) {
  Section s(root["kafka_attachment"], "kafka_attachment",
            {"bootstrap", "ingress_topic", "egress_topic", "group_id", "properties"});
  KafkaAttachmentConfig& k = cfg.kafka_attachment;
  k.bootstrap = s.string("bootstrap", "");
  k.ingress_topic = s.string("ingress_topic", "");
  k.egress_topic = s.string("egress_topic", "");
  k.group_id = s.string("group_id", "ptp-gateway." + cfg.node_id);
  parse_string_map(s, "properties", k.properties);
  if (k.enabled() && k.bootstrap.empty())
    fail(s.at("bootstrap"), "required with ingress_topic or egress_topic");
  if (k.enabled() && !cfg.queue.enabled)
    fail(s.at("ingress_topic"), "the Kafka attachment needs queue.enabled");
}

// router_server.job_sources: a list of node ids (each may start jobs whose result goes to
// itself), or a mapping from node id to the list of HE nodes its jobs may deliver to.
void parse_job_sources(const Section& s, RouterServerConfig& r) {
  const std::string path = s.at("job_sources");
  const std::string expected =
      "expected a list of node ids, or a mapping from node id to a list of HE node ids";
  if (!s.has("job_sources"))
    fail(path, "required key is missing (the nodes whose job specs this router server accepts)");
  YAML::Node node = s.get("job_sources");
  auto id_at = [](const YAML::Node& n, const std::string& at) {
    if (!n.IsScalar()) fail(at, "expected a node id, got " + kind_name(n));
    check_id(at, n.Scalar());
    return n.Scalar();
  };
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      std::string id = id_at(node[i], index_path(path, i));
      r.job_sources[id] = {id};
    }
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string id = id_at(kv.first, path);
      const std::string at = path + "." + id;
      if (r.job_sources.count(id)) fail(at, "duplicate key");
      std::vector<std::string>& he = r.job_sources[id];
      if (!kv.second.IsSequence() || kv.second.size() == 0)
        fail(at,
             "expected a non-empty list of the HE nodes this source's jobs may deliver to, "
             "got " +
                 kind_name(kv.second));
      for (size_t i = 0; i < kv.second.size(); ++i)
        he.push_back(id_at(kv.second[i], index_path(at, i)));
    }
  } else {
    fail(path, expected + ", got " + kind_name(node));
  }
  if (r.job_sources.empty()) fail(path, "must not be empty (" + expected + ")");
}

void parse_router_server(const YAML::Node& root, Config& cfg) {
  if (!root["router_server"]) return;
  Section s(root["router_server"], "router_server",
            {"role", "peer_rs_node", "workers", "job_timeout_s", "combine_at", "job_sources"});
  RouterServerConfig& r = cfg.router_server;
  r.enabled = true;
  if (!s.has("role")) fail(s.at("role"), "required key is missing (A or B)");
  const std::string role = s.required_string("role");
  if (role != "A" && role != "B")
    fail(s.at("role"), "unknown role " + quote_value(role) + " (expected A or B)");
  r.role = role == "A" ? rs::Role::kA : rs::Role::kB;
  const std::string combine = s.string("combine_at", "rc");
  auto c = rs::parse_combine_at(combine);
  if (!c) fail(s.at("combine_at"), "expected rc or rs_a, got " + quote_value(combine));
  r.combine_at = *c;
  r.workers = static_cast<unsigned>(s.integer("workers", 0, 0, 256));
  r.job_timeout =
      std::chrono::seconds(s.integer("job_timeout_s", r.job_timeout.count(), 1, 24 * 3600));
  if (auto peer = s.opt_string("peer_rs_node")) {
    r.peer_rs_node = *peer;
    check_id(s.at("peer_rs_node"), r.peer_rs_node);
    if (r.peer_rs_node == cfg.node_id)
      fail(s.at("peer_rs_node"), quote_value(r.peer_rs_node) + " is this node's own id");
    if (!find_peer(cfg, r.peer_rs_node) && cfg.default_route.empty())
      fail(s.at("peer_rs_node"),
           "no peer " + quote_value(r.peer_rs_node) + " is configured (and no default_route)");
  } else if (r.combine_at == rs::CombineAt::kRsA) {
    fail(s.at("peer_rs_node"),
         "required with combine_at rs_a (the node of the other router server)");
  }
  parse_job_sources(s, r);
  if (!cfg.queue.enabled) fail(s.path(), "needs queue.enabled (jobs arrive as queued messages)");
  if (!cfg.kafka_attachment.egress_topic.empty())
    fail(s.path(),
         "cannot be used with kafka_attachment.egress_topic (its messages must stay in the inbox)");
  if (cfg.auth.enabled && !cfg.auth.node_keys.count(cfg.node_id))
    fail(s.path(), "deliveries are signed with this node's key: auth.node_keys." + cfg.node_id +
                       " is required while auth.enabled is true");
}

Config parse_root(const YAML::Node& root, const FileResolver& files) {
  if (!root || root.IsNull()) fail("", "the configuration is empty (node.node_id is required)");
  Section top(root, "",
              {"node", "listen", "admin", "io_threads", "reload_poll_ms", "shutdown_grace_ms",
               "limits", "connections", "auth", "peers", "default_route", "local_services", "log",
               "queue", "kafka_attachment", "router_server"});
  if (!root.IsMap()) fail("", "expected a mapping at the top level, got " + kind_name(root));
  Config cfg;
  parse_node_section(root, cfg);
  parse_listen(root, files, cfg);
  parse_admin(root, cfg);
  cfg.io_threads = static_cast<unsigned>(top.integer("io_threads", 0, 0, 256));
  cfg.reload_poll = positive_ms(top, "reload_poll_ms", cfg.reload_poll);
  cfg.shutdown_grace = std::chrono::milliseconds(
      top.integer("shutdown_grace_ms", cfg.shutdown_grace.count(), 0, 3600000));
  parse_limits(root, cfg);
  parse_connections(root, cfg);
  parse_auth(root, cfg);
  parse_peers(root, files, cfg);
  cfg.default_route = top.string("default_route", "");
  parse_local_services(root, cfg);
  parse_log(root, files, cfg);
  parse_queue(root, files, cfg);
  parse_kafka_attachment(root, cfg);
  check_peer_references(cfg);
  parse_router_server(root, cfg);
  return cfg;
}

}  // namespace

const QueueDialect& queue_dialect(const QueueConfig& q, const std::string& provider_code) {
  auto it = q.dialects.find(provider_code);
  return it == q.dialects.end() ? q.default_dialect : it->second;
}

std::string_view protocol_name(PeerProtocol p) {
  switch (p) {
    case PeerProtocol::kHttp2:
      return "http2";
    case PeerProtocol::kGrpc:
      return "grpc";
    case PeerProtocol::kHttp1:
      return "http1";
  }
  return "unknown";
}

bool parse_peer_protocol(std::string_view name, PeerProtocol& out) {
  for (auto p : {PeerProtocol::kHttp2, PeerProtocol::kGrpc, PeerProtocol::kHttp1}) {
    if (name == protocol_name(p)) {
      out = p;
      return true;
    }
  }
  return false;
}

const PeerConfig* find_peer(const Config& cfg, std::string_view node_id) {
  for (const auto& p : cfg.peers) {
    if (p.node_id == node_id) return &p;
  }
  return nullptr;
}

const PeerConfig* next_hop_for(const Config& cfg, const PeerConfig& peer) {
  const PeerConfig* p = &peer;
  // Bounded even for configs that did not go through validation.
  for (size_t depth = 0; p && !p->address; ++depth) {
    if (depth > cfg.peers.size()) return nullptr;
    p = find_peer(cfg, p->via);
  }
  return p;
}

ConfigPtr parse_config_text(const std::string& yaml, const std::string& source_name,
                            std::string& error) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    std::ostringstream msg;
    msg << source_name << ": ";
    if (!e.mark.is_null()) {
      msg << "line " << e.mark.line + 1 << ", column " << e.mark.column + 1 << ": ";
    }
    msg << "YAML syntax error: " << e.msg;
    error = msg.str();
    return nullptr;
  }
  try {
    FileResolver files(fs::path(source_name).parent_path());
    auto cfg = std::make_shared<Config>(parse_root(root, files));
    cfg->source_path = source_name;
    return cfg;
  } catch (const ConfigError& e) {
    error = source_name + ": " + (e.path.empty() ? "" : e.path + ": ") + e.message;
  } catch (const YAML::Exception& e) {
    error = source_name + ": invalid YAML structure: " + e.msg;
  }
  return nullptr;
}

ConfigPtr load_config(const std::string& path, std::string& error) {
  std::error_code dir_ec;
  if (fs::is_directory(path, dir_ec)) {
    error = path + ": cannot read the configuration file (it is a directory)";
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    bool exists = fs::exists(path, ec);
    error = path + ": cannot read the configuration file (" +
            (exists ? "permission denied or not a file" : "no such file") + ")";
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = path + ": error while reading the configuration file";
    return nullptr;
  }
  return parse_config_text(text.str(), path, error);
}

}  // namespace ptp
