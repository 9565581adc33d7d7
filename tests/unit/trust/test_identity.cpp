#include <doctest/doctest.h>
#include <sys/stat.h>

#include "common/unix_time.h"
#include "trust/identity.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::run_shell;
using ptp::testing::TrustTempDir;

namespace {

IdentityOptions options(KeyAlgorithm alg = KeyAlgorithm::kEcdsaP256) {
  IdentityOptions o;
  o.node_id = "nodeA";
  o.inst_id = "inst-a";
  o.algorithm = alg;
  o.address = "127.0.0.1:17601";
  o.hosts = {"127.0.0.1", "localhost"};
  return o;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

NodeIdentity create(const std::string& dir, const IdentityOptions& o) {
  std::string error;
  auto id = create_identity(dir, o, error);
  REQUIRE_MESSAGE(id.has_value(), error);
  return std::move(*id);
}

NodeIdentity load(const std::string& dir) {
  std::string error;
  auto id = load_identity(dir, error);
  REQUIRE_MESSAGE(id.has_value(), error);
  return std::move(*id);
}

}  // namespace

TEST_CASE("identity: created with the documented files and modes, loaded back") {
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    CAPTURE(key_algorithm_name(alg));
    TrustTempDir tmp;
    const std::string dir = tmp.file("id");
    NodeIdentity made = create(dir, options(alg));
    CHECK(file_mode(dir) == 0700);
    CHECK(file_mode(dir + "/node.key") == 0600);
    CHECK(file_mode(dir + "/tls.key") == 0600);
    CHECK(file_mode(dir + "/root.crt") == 0644);
    CHECK(file_mode(dir + "/tls.crt") == 0644);
    CHECK(file_mode(dir + "/identity.json") == 0644);
    CHECK(tmp.read("id/identity.json") ==
          "{\n  \"address\": \"127.0.0.1:17601\",\n  \"algorithm\": \"" +
              std::string(key_algorithm_name(alg)) +
              "\",\n  \"inst_id\": \"inst-a\",\n  \"node_id\": \"nodeA\"\n}\n");

    NodeIdentity id = load(dir);
    CHECK(id.node_id == "nodeA");
    CHECK(id.inst_id == "inst-a");
    CHECK(id.algorithm == alg);
    CHECK(id.address == "127.0.0.1:17601");
    CHECK(id.node_key.algorithm() == alg);
    CHECK(id.tls_key.algorithm() == KeyAlgorithm::kEcdsaP256);
    CHECK(id.root_fingerprint() == made.root_fingerprint());
    CHECK(id.root.der() == made.root.der());
    REQUIRE(id.tls_chain.size() == 2);
    CHECK(id.tls_chain[1].der() == id.root.der());
    CHECK(id.tls_certificate().hosts() == std::vector<std::string>{"127.0.0.1", "localhost"});
    CHECK(id.tls_certificate().node_id() == "nodeA");
    CHECK(tmp.read("id/root.crt") == id.root.pem());
    // The loaded node key is the root's key.
    std::string error;
    CHECK(id.root.public_key(error)->verify("m", id.node_key.sign("m")));
  }
}

TEST_CASE("identity: never overwritten, not even one file of it") {
  TrustTempDir tmp;
  const std::string dir = tmp.file("id");
  NodeIdentity first = create(dir, options());
  const std::string key_before = tmp.read("id/node.key");
  std::string error;
  CHECK_FALSE(create_identity(dir, options(KeyAlgorithm::kEd25519), error).has_value());
  CHECK(error.find("an identity already exists in " + dir + " (" + dir + "/node.key)") == 0);
  CHECK(tmp.read("id/node.key") == key_before);
  CHECK(load(dir).root_fingerprint() == first.root_fingerprint());

  // A directory holding only a stray identity.json is not initialised over either.
  const std::string dir2 = tmp.file("id2");
  std::filesystem::create_directory(dir2);
  tmp.write("id2/identity.json", "{}");
  CHECK_FALSE(create_identity(dir2, options(), error).has_value());
  CHECK(error.find("an identity already exists in " + dir2 + " (" + dir2 + "/identity.json)") == 0);
  CHECK_FALSE(std::filesystem::exists(dir2 + "/node.key"));
}

TEST_CASE("identity: bad options write nothing") {
  TrustTempDir tmp;
  const std::string dir = tmp.file("id");
  std::string error;
  IdentityOptions o = options();
  o.address = "127.0.0.1";
  CHECK_FALSE(create_identity(dir, o, error).has_value());
  CHECK(error ==
        "address '127.0.0.1' is not host:port (host [A-Za-z0-9.-], IPv6 as [addr]:port, port "
        "1-65535)");
  o = options();
  o.node_id = "bad id";
  CHECK_FALSE(create_identity(dir, o, error).has_value());
  CHECK(error == "node id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  o = options();
  o.hosts = {"bad_host"};
  CHECK_FALSE(create_identity(dir, o, error).has_value());
  CHECK_FALSE(std::filesystem::exists(dir + "/node.key"));
  // No hosts: the address's host.
  o = options();
  o.hosts.clear();
  o.address = "[::1]:17602";
  CHECK(create(dir, o).tls_certificate().hosts() == std::vector<std::string>{"::1"});
}

TEST_CASE("identity: host:port parsing") {
  std::string host, error;
  CHECK(parse_host_port("gw.example:443", host, error));
  CHECK(host == "gw.example");
  CHECK(parse_host_port("[fe80::1]:8443", host, error));
  CHECK(host == "fe80::1");
  for (const char* bad : {"", ":443", "gw:", "gw:0", "gw:65536", "gw:x", "::1:443", "gw", "g w:1",
                          "[gw]:1", "gw\n:1", "[]:1"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_host_port(bad, host, error));
  }
}

TEST_CASE("identity: damaged, mismatched or exposed files are refused naming the file") {
  TrustTempDir tmp;
  const std::string dir = tmp.file("id");
  NodeIdentity id = create(dir, options());
  std::string error;

  chmod((dir + "/node.key").c_str(), 0640);
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error == dir +
                     "/node.key is accessible by group or others (mode 0640): a private key "
                     "must be mode 0600");
  chmod((dir + "/node.key").c_str(), 0600);
  chmod((dir + "/tls.key").c_str(), 0604);
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error.find(dir + "/tls.key is accessible by group or others (mode 0604)") == 0);
  chmod((dir + "/tls.key").c_str(), 0600);
  CHECK(load_identity(dir, error).has_value());

  // identity.json saying another node: the root does not name it.
  const std::string json = tmp.read("id/identity.json");
  tmp.write("id/identity.json",
            "{\"node_id\":\"nodeB\",\"inst_id\":\"inst-a\",\"algorithm\":\"ecdsa-p256\","
            "\"address\":\"127.0.0.1:1\"}");
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error == dir + "/root.crt: the root certificate names node nodeA, not node nodeB");
  tmp.write("id/identity.json",
            "{\"node_id\":\"nodeA\",\"inst_id\":\"inst-a\",\"algorithm\":\"ed25519\","
            "\"address\":\"127.0.0.1:1\"}");
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error == dir + "/node.key is an ecdsa-p256 key but " + dir + "/identity.json says ed25519");
  for (const char* bad : {"", "[]", "{\"node_id\":1}", "[[[[[[]]]]]]",
                          "{\"node_id\":\"nodeA\",\"inst_id\":\"inst-a\",\"algorithm\":\"rsa\","
                          "\"address\":\"a:1\"}"}) {
    tmp.write("id/identity.json", bad);
    CHECK_FALSE(load_identity(dir, error).has_value());
    CHECK(error.find(dir + "/identity.json: expected a JSON object") == 0);
  }
  tmp.write("id/identity.json", json);

  // Another identity's root in place of this one's.
  const std::string other = tmp.file("other");
  NodeIdentity stranger = create(other, options());
  const std::string root = tmp.read("id/root.crt");
  tmp.write("id/root.crt", tmp.read("other/root.crt"));
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error == dir + "/root.crt: its key is not the key in " + dir + "/node.key");
  tmp.write("id/root.crt", root);

  // A TLS certificate of the other identity, or a chain without the root.
  const std::string tls = tmp.read("id/tls.crt");
  tmp.write("id/tls.crt", tmp.read("other/tls.crt"));
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error == dir + "/tls.crt: expected the TLS certificate followed by " + dir + "/root.crt");
  tmp.write("id/tls.crt", stranger.tls_certificate().pem() + root);
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error.find(dir + "/tls.crt: the certificate does not chain to the root") == 0);
  tmp.write("id/tls.crt", id.tls_certificate().pem());
  CHECK_FALSE(load_identity(dir, error).has_value());
  tmp.write("id/tls.crt", tls);
  // The TLS key of another identity.
  const std::string tls_key = tmp.read("id/tls.key");
  tmp.write("id/tls.key", tmp.read("other/tls.key"));
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK(error == dir + "/tls.crt: the TLS certificate is not for the key in " + dir + "/tls.key");
  tmp.write("id/tls.key", tls_key);
  CHECK(load_identity(dir, error).has_value());
}

TEST_CASE("identity: renewing the TLS certificate keeps the root and the node key") {
  TrustTempDir tmp;
  const std::string dir = tmp.file("id");
  NodeIdentity before = create(dir, options(KeyAlgorithm::kEd25519));
  const std::string node_key = tmp.read("id/node.key");
  const std::string tls_key = tmp.read("id/tls.key");
  std::string error;
  auto renewed = renew_tls_certificate(dir, {}, 30, error);
  REQUIRE_MESSAGE(renewed.has_value(), error);
  NodeIdentity after = load(dir);
  CHECK(after.root_fingerprint() == before.root_fingerprint());
  CHECK(tmp.read("id/node.key") == node_key);
  CHECK(tmp.read("id/tls.key") != tls_key);
  CHECK(file_mode(dir + "/tls.key") == 0600);
  CHECK(after.tls_certificate().der() != before.tls_certificate().der());
  CHECK(after.tls_certificate().der() == renewed->tls_certificate().der());
  CHECK(after.tls_certificate().hosts() == before.tls_certificate().hosts());
  CHECK(std::abs(after.tls_certificate().not_after_unix() - (unix_now() + 30 * 86400)) <= 5);
  std::string why;
  CHECK(verify_issued_by(after.tls_certificate(), before.root, why));
  CHECK_FALSE(std::filesystem::exists(dir + "/tls.key.tmp"));

  // New hosts; and a damaged tls.crt is replaced too (renewal is the repair).
  tmp.write("id/tls.crt", "damaged");
  CHECK_FALSE(load_identity(dir, error).has_value());
  CHECK_FALSE(renew_tls_certificate(dir, {}, 30, error).has_value());
  CHECK(error == "no hosts for the TLS certificate: the current one names none; give them");
  renewed = renew_tls_certificate(dir, {"gw.example", "10.0.0.5"}, 30, error);
  REQUIRE_MESSAGE(renewed.has_value(), error);
  CHECK(load(dir).tls_certificate().hosts() == std::vector<std::string>{"gw.example", "10.0.0.5"});
}

TEST_CASE("identity: the openssl command line accepts the files") {
  TrustTempDir tmp;
  const std::string dir = tmp.file("id");
  create(dir, options());
  const std::string out = tmp.file("out");
  CHECK(run_shell("openssl verify -CAfile " + dir + "/root.crt " + dir + "/tls.crt", out) == 0);
  CHECK(run_shell("openssl pkey -noout -in " + dir + "/node.key", out) == 0);
  CHECK(run_shell("openssl pkey -noout -in " + dir + "/tls.key", out) == 0);
  REQUIRE(run_shell("openssl x509 -noout -pubkey -in " + dir + "/tls.crt", out) == 0);
  const std::string cert_pub = tmp.read("out");
  REQUIRE(run_shell("openssl pkey -pubout -in " + dir + "/tls.key", out) == 0);
  CHECK(cert_pub.find(tmp.read("out")) != std::string::npos);
}
