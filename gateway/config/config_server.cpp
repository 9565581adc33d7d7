// Configuration sections of the node and what it serves: node, listen, admin, limits,
// connections, auth, log.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {
namespace {

// --- Request body budgets (docs/security.md) ---

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

// auth.max_token_lifetime_s: at most a year.
constexpr int64_t kMaxTokenLifetimeS = 366 * 24 * 3600;

}  // namespace

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

namespace {

// The operator token of admin.credential_file: the file's content without surrounding
// whitespace, one word of visible ASCII, at least 16 characters. The file must not be
// accessible by group or others (like ssh's keys). Messages never show the token.
std::string read_admin_token(const std::string& key_path, const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) fail(key_path, "cannot stat " + quote_value(file));
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(key_path, "file " + quote_value(file) + " is accessible by group or others (mode " + mode +
                       "): a credential file must be mode 0600 (chmod 600 " + file + ")");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  std::string_view token = all;
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!token.empty() && ws(token.front())) token.remove_prefix(1);
  while (!token.empty() && ws(token.back())) token.remove_suffix(1);
  if (token.size() < 16)
    fail(key_path, "file " + quote_value(file) + " holds no token of at least 16 characters");
  for (char c : token) {
    if (c <= ' ' || c > '~')
      fail(key_path, "file " + quote_value(file) +
                         ": the token must be one word of visible ASCII characters");
  }
  return std::string(token);
}

}  // namespace

void parse_admin(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(root["admin"], "admin",
            {"address", "port", "credential_file", "body_timeout_ms", "tls"});
  cfg.admin.host = s.string("address", "127.0.0.1");
  if (!valid_host(cfg.admin.host))
    fail(s.at("address"), "invalid host " + quote_value(cfg.admin.host));
  // Port 0 (or no admin section): the admin listener is disabled.
  cfg.admin.port = static_cast<uint16_t>(s.integer("port", 0, 0, 65535));
  if (cfg.admin.port != 0 && cfg.admin.port == cfg.listen.port) {
    fail(s.at("port"), "must differ from listen.port (" + std::to_string(cfg.listen.port) + ")");
  }
  AdminAccessConfig& a = cfg.admin_access;
  if (s.has("credential_file")) {
    a.credential_file =
        files.readable(s.at("credential_file"), s.required_string("credential_file"));
    a.token = read_admin_token(s.at("credential_file"), a.credential_file);
  }
  a.body_timeout =
      std::chrono::milliseconds(s.integer("body_timeout_ms", a.body_timeout.count(), 100, 600000));
  if (s.has("tls")) {
    Section t(s.get("tls"), s.at("tls"), {"cert", "key", "client_ca"});
    if (!t.has("cert")) fail(t.at("cert"), "required key is missing (tls needs cert and key)");
    if (!t.has("key")) fail(t.at("key"), "required key is missing (tls needs cert and key)");
    TlsServerConfig tls;
    tls.cert_file = files.readable(t.at("cert"), t.required_string("cert"));
    tls.key_file = files.readable(t.at("key"), t.required_string("key"));
    if (t.has("client_ca"))
      tls.client_ca_file = files.readable(t.at("client_ca"), t.required_string("client_ca"));
    a.tls = std::move(tls);
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

void parse_auth(const YAML::Node& root, Config& cfg) {
  Section s(
      root["auth"], "auth",
      {"enabled", "mode", "allow_none", "max_clock_skew_s", "max_token_lifetime_s", "node_keys"});
  AuthConfig& a = cfg.auth;
  a.enabled = s.boolean("enabled", a.enabled);
  a.allow_none = s.boolean("allow_none", a.allow_none);
  a.mode = auth_mode(s, "mode", a.allow_none).value_or(a.mode);
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

void parse_identity(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(root["identity"], "identity", {"dir"});
  if (!s.has("dir")) return;
  cfg.identity.dir = files.path(s.required_string("dir"));
  for (const std::string& f : {cfg.identity.node_key_file(), cfg.identity.root_cert_file(),
                               cfg.identity.tls_key_file(), cfg.identity.tls_cert_file()}) {
    files.readable(s.at("dir"), f);
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

}  // namespace ptp::config_yaml
