#include "trust/identity.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "codecs/json_depth.h"
#include "trust/secure_file.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxFileBytes = 64 * 1024;

std::string file_in(const std::string& dir, std::string_view name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string identity_json(const IdentityOptions& o) {
  Json j = {{"node_id", o.node_id},
            {"inst_id", o.inst_id},
            {"algorithm", std::string(key_algorithm_name(o.algorithm))},
            {"address", o.address}};
  return j.dump(2) + "\n";
}

// A key file must be readable by its owner only (as ssh insists for its keys).
bool check_private(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = path + " is accessible by group or others (mode " + mode +
            "): a private key must be mode 0600";
    return false;
  }
  return true;
}

bool key_matches(const Certificate& cert, const NodeKey& key) {
  bool ok = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  return ok;
}

// Makes a TLS key and its certificate issued by `root`; `chain` = {certificate, root}.
std::optional<NodeKey> make_tls(const NodeKey& node_key, const Certificate& root,
                                std::string_view node_id, const std::vector<std::string>& hosts,
                                int days, std::vector<Certificate>& chain, std::string& error) {
  auto tls_key = NodeKey::generate(KeyAlgorithm::kEcdsaP256, error);
  if (!tls_key) return std::nullopt;
  auto tls_pub = tls_key->public_key(error);
  if (!tls_pub) return std::nullopt;
  auto leaf = issue_tls_certificate(node_key, root, *tls_pub, node_id, hosts, days, error);
  if (!leaf) return std::nullopt;
  chain = {std::move(*leaf), root};
  return tls_key;
}

}  // namespace

std::optional<NodeIdentity> create_identity(const std::string& dir, const IdentityOptions& opts,
                                            std::string& error) {
  std::string address_host;
  if (!parse_host_port(opts.address, address_host, error)) return std::nullopt;
  const std::vector<std::string> hosts =
      opts.hosts.empty() ? std::vector<std::string>{address_host} : opts.hosts;

  const std::string names[] = {file_in(dir, kNodeKeyFileName), file_in(dir, kRootCertFileName),
                               file_in(dir, kTlsKeyFileName), file_in(dir, kTlsCertFileName),
                               file_in(dir, kIdentityJsonFileName)};
  std::error_code ec;
  for (const std::string& f : names) {
    if (std::filesystem::exists(std::filesystem::symlink_status(f, ec))) {
      error = "an identity already exists in " + dir + " (" + f +
              "); it is never overwritten: a new identity is a new root, and every peer must "
              "re-peer (to renew the TLS certificate only: ptpctl identity renew-tls)";
      return std::nullopt;
    }
  }
  if (!std::filesystem::exists(dir, ec)) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      error = "cannot create the directory " + dir + ": " + std::strerror(errno);
      return std::nullopt;
    }
  }

  auto node_key = NodeKey::generate(opts.algorithm, error);
  if (!node_key) return std::nullopt;
  auto root = make_root_certificate(*node_key, opts.node_id, opts.inst_id, opts.root_days, error);
  if (!root) return std::nullopt;
  std::vector<Certificate> chain;
  auto tls_key = make_tls(*node_key, *root, opts.node_id, hosts, opts.tls_days, chain, error);
  if (!tls_key) return std::nullopt;
  auto tls_pem = tls_key->private_pem(error);
  if (!tls_pem) return std::nullopt;

  // node.key first, exclusively: of two concurrent inits one wins and the other stops here.
  if (!node_key->save_pem_file(names[0], error)) return std::nullopt;
  std::vector<std::string> written = {names[0]};
  auto write = [&](const std::string& path, std::string_view content, mode_t mode) {
    if (!write_new_file(path, content, mode, error)) return false;
    written.push_back(path);
    return true;
  };
  if (!write(names[1], root->pem(), 0644) || !write(names[2], *tls_pem, 0600) ||
      !write(names[3], chain_pem(chain), 0644) || !write(names[4], identity_json(opts), 0644)) {
    for (const std::string& f : written) ::unlink(f.c_str());
    OPENSSL_cleanse(tls_pem->data(), tls_pem->size());
    return std::nullopt;
  }
  OPENSSL_cleanse(tls_pem->data(), tls_pem->size());
  return NodeIdentity{opts.node_id,        opts.inst_id,         opts.algorithm,
                      opts.address,        std::move(*node_key), std::move(*root),
                      std::move(*tls_key), std::move(chain)};
}

namespace {

// identity.json, node.key and root.crt, checked together.
struct RootPart {
  std::string node_id;
  std::string inst_id;
  KeyAlgorithm algorithm;
  std::string address;
  NodeKey node_key;
  Certificate root;
};

std::optional<RootPart> load_root_part(const std::string& dir, std::string& error) {
  const std::string json_file = file_in(dir, kIdentityJsonFileName);
  auto text = read_small_file(json_file, kMaxFileBytes, error);
  if (!text) return std::nullopt;
  Json j = json_depth_within(*text, 2) ? Json::parse(*text, nullptr, false) : Json();
  auto field = [&](const char* name) -> std::string {
    if (!j.is_object()) return {};
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string node_id = field("node_id"), inst_id = field("inst_id"),
                    alg_name = field("algorithm"), address = field("address");
  KeyAlgorithm alg = KeyAlgorithm::kEcdsaP256;
  if (node_id.empty() || inst_id.empty() || address.empty() ||
      !parse_key_algorithm(alg_name, alg)) {
    error = json_file +
            ": expected a JSON object with the strings node_id, inst_id, algorithm "
            "(ecdsa-p256, ed25519 or sm2) and address";
    return std::nullopt;
  }

  const std::string key_file = file_in(dir, kNodeKeyFileName);
  if (!check_private(key_file, error)) return std::nullopt;
  auto node_key = NodeKey::load_pem_file(key_file, error);
  if (!node_key) return std::nullopt;
  if (node_key->algorithm() != alg) {
    error = key_file + " is an " + std::string(key_algorithm_name(node_key->algorithm())) +
            " key but " + json_file + " says " + alg_name;
    return std::nullopt;
  }

  const std::string root_file = file_in(dir, kRootCertFileName);
  auto root_text = read_small_file(root_file, kMaxFileBytes, error);
  if (!root_text) return std::nullopt;
  auto root = Certificate::from_pem(*root_text, error);
  if (!root) {
    error = root_file + ": " + error;
    return std::nullopt;
  }
  if (!verify_node_root(*root, node_id, error)) {
    error = root_file + ": " + error;
    return std::nullopt;
  }
  if (root->inst_id() != inst_id) {
    error = root_file + ": it names institution " + root->inst_id() + ", not " + inst_id;
    return std::nullopt;
  }
  if (!key_matches(*root, *node_key)) {
    error = root_file + ": its key is not the key in " + key_file;
    return std::nullopt;
  }
  return RootPart{node_id, inst_id, alg, address, std::move(*node_key), std::move(*root)};
}

}  // namespace

std::optional<NodeIdentity> load_identity(const std::string& dir, std::string& error) {
  auto part = load_root_part(dir, error);
  if (!part) return std::nullopt;
  const std::string tls_key_file = file_in(dir, kTlsKeyFileName);
  if (!check_private(tls_key_file, error)) return std::nullopt;
  auto tls_key = NodeKey::load_pem_file(tls_key_file, error);
  if (!tls_key) return std::nullopt;

  const std::string tls_file = file_in(dir, kTlsCertFileName);
  auto tls_text = read_small_file(tls_file, kMaxFileBytes, error);
  if (!tls_text) return std::nullopt;
  auto chain = Certificate::chain_from_pem(*tls_text, error);
  if (!chain) {
    error = tls_file + ": " + error;
    return std::nullopt;
  }
  if (chain->size() < 2 || chain->back().der() != part->root.der()) {
    error =
        tls_file + ": expected the TLS certificate followed by " + file_in(dir, kRootCertFileName);
    return std::nullopt;
  }
  if (!verify_issued_by(chain->front(), part->root, error)) {
    error = tls_file + ": " + error + " (renew it: ptpctl identity renew-tls)";
    return std::nullopt;
  }
  if (!key_matches(chain->front(), *tls_key)) {
    error = tls_file + ": the TLS certificate is not for the key in " + tls_key_file;
    return std::nullopt;
  }
  return NodeIdentity{std::move(part->node_id), std::move(part->inst_id),  part->algorithm,
                      std::move(part->address), std::move(part->node_key), std::move(part->root),
                      std::move(*tls_key),      std::move(*chain)};
}

std::optional<NodeIdentity> renew_tls_certificate(const std::string& dir,
                                                  const std::vector<std::string>& hosts, int days,
                                                  std::string& error) {
  // The TLS files are not checked: an expired or damaged TLS certificate is what renewal
  // is for. Its hosts are kept when no others are given.
  auto part = load_root_part(dir, error);
  if (!part) return std::nullopt;
  std::vector<std::string> names = hosts;
  if (names.empty()) {
    std::string ignored;
    auto old_text = read_small_file(file_in(dir, kTlsCertFileName), kMaxFileBytes, ignored);
    auto old = old_text ? Certificate::from_pem(*old_text, ignored) : std::nullopt;
    if (old) names = old->hosts();
  }
  if (names.empty()) {
    error = "no hosts for the TLS certificate: the current one names none; give them";
    return std::nullopt;
  }
  std::vector<Certificate> chain;
  auto tls_key = make_tls(part->node_key, part->root, part->node_id, names, days, chain, error);
  if (!tls_key) return std::nullopt;
  auto tls_pem = tls_key->private_pem(error);
  if (!tls_pem) return std::nullopt;
  const std::string chain_text = chain_pem(chain);
  bool ok = replace_files({{file_in(dir, kTlsKeyFileName), *tls_pem, 0600},
                           {file_in(dir, kTlsCertFileName), chain_text, 0644}},
                          error);
  OPENSSL_cleanse(tls_pem->data(), tls_pem->size());
  if (!ok) return std::nullopt;
  return NodeIdentity{std::move(part->node_id), std::move(part->inst_id),  part->algorithm,
                      std::move(part->address), std::move(part->node_key), std::move(part->root),
                      std::move(*tls_key),      std::move(chain)};
}

}  // namespace ptp
