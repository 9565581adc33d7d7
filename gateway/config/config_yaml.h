// Inside the configuration loader (gateway/config/config.cpp and the config_*.cpp files,
// one per group of sections): the YAML helpers every section parser uses, and the section
// parsers. Not for use outside gateway/config/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "gateway/config/config.h"

namespace ptp::config_yaml {

namespace fs = std::filesystem;

// Thrown inside the loader only; the entry points (config.cpp) turn it into the error string.
struct ConfigError {
  std::string path;
  std::string message;
};

[[noreturn]] void fail(const std::string& path, std::string message);

// A value quoted for an error message: printable, bounded in length.
std::string quote_value(std::string_view s);
std::string kind_name(const YAML::Node& n);

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

std::string index_path(const std::string& parent, size_t i);
void check_id(const std::string& path, const std::string& id);
// "host:port" or "[v6]:port".
Endpoint parse_host_port(const std::string& path, const std::string& s);
std::chrono::milliseconds positive_ms(const Section& s, std::string_view key,
                                      std::chrono::milliseconds def);
PeerProtocol protocol(const Section& s, std::string_view key, PeerProtocol def);

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

bool valid_host(std::string_view host);
std::optional<GrpcErrors> grpc_errors(const Section& s, std::string_view key);
// An authentication mode (auth.mode, peers[i].auth); `none` only when allow_none.
std::optional<AuthMode> auth_mode(const Section& s, std::string_view key, bool allow_none);

// The section parsers, each in the file of its group.
// config_server.cpp: the node, what it serves and how it logs.
void parse_node_section(const YAML::Node& root, Config& cfg);
void parse_listen(const YAML::Node& root, const FileResolver& files, Config& cfg);
void parse_admin(const YAML::Node& root, const FileResolver& files, Config& cfg);
void parse_limits(const YAML::Node& root, Config& cfg);
void parse_connections(const YAML::Node& root, Config& cfg);
void parse_auth(const YAML::Node& root, Config& cfg);
void parse_identity(const YAML::Node& root, const FileResolver& files, Config& cfg);
// config_crypto.cpp: the crypto profile (international or gm).
void parse_crypto(const YAML::Node& root, Config& cfg);
void parse_log(const YAML::Node& root, const FileResolver& files, Config& cfg);
// config_peers.cpp: next hops and local services.
void parse_peers(const YAML::Node& root, const FileResolver& files, Config& cfg);
void parse_local_services(const YAML::Node& root, Config& cfg);
void check_peer_references(Config& cfg);
// config_auth_modes.cpp: what each authentication mode in use needs (keys, identity, roots).
void check_auth_modes(const Config& cfg);
// Whether auth.mode or some peer's auth is hmac.
bool hmac_in_use(const Config& cfg);
// config_peering.cpp: the peering handshake and the dynamic peer table.
void parse_peering(const YAML::Node& root, const FileResolver& files, Config& cfg);
// config_queue.cpp: queues and the Kafka attachment.
void parse_queue(const YAML::Node& root, const FileResolver& files, Config& cfg);
void parse_kafka_attachment(const YAML::Node& root, Config& cfg);
// config_router.cpp: the router server.
void parse_router_server(const YAML::Node& root, Config& cfg);
// config_authorization.cpp: the per-peer policies.
void parse_authorization(const YAML::Node& root, Config& cfg);
// config_evidence.cpp: the evidence log (and its signature settings).
void parse_evidence(const YAML::Node& root, const FileResolver& files, Config& cfg);

}  // namespace ptp::config_yaml
