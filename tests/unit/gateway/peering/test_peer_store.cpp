#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/config/config_store.h"
#include "gateway/peering/overlay.h"
#include "gateway/peering/peer_store.h"

using namespace ptp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ptp-peer-store-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

PeerRecord record(const std::string& id, PeerState state = PeerState::kActive) {
  PeerRecord r;
  r.node_id = id;
  r.inst_id = "INST_" + id;
  r.address = "127.0.0.1:17901";
  r.root_pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
  r.root_fp = std::string(64, 'a');
  r.state = state;
  r.created_at = 1000;
  r.expires_at = 5000;
  return r;
}

std::unique_ptr<PeerStore> open_ok(const fs::path& p) {
  std::string error;
  auto s = PeerStore::open(p.string(), error);
  INFO(error);
  REQUIRE(s != nullptr);
  return s;
}

}  // namespace

TEST_CASE("peer store: records survive a reopen, the file is 0600 and written atomically") {
  TempDir dir;
  const fs::path file = dir.path / "sub" / "peering.json";
  {
    auto s = open_ok(file);
    CHECK(s->records().empty());
    int changes = 0;
    s->set_on_change([&] { ++changes; });
    REQUIRE(s->put(record("B")).ok());
    REQUIRE(s->put(record("C", PeerState::kPending)).ok());
    REQUIRE(s->set_state("C", PeerState::kDisabled).ok());
    REQUIRE(s->set_expiry("B", 9000).ok());
    CHECK(changes == 4);
    CHECK(s->set_state("Z", PeerState::kActive).code == Code::kNotFound);
    CHECK(changes == 4);
  }
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(fs::exists(file.string() + ".tmp"));
  auto s = open_ok(file);
  auto b = s->find("B");
  REQUIRE(b);
  CHECK(b->expires_at == 9000);
  CHECK(b->root_fp == std::string(64, 'a'));
  CHECK(b->auth_mode == AuthMode::kSignature);
  auto c = s->find("C");
  REQUIRE(c);
  CHECK(c->state == PeerState::kDisabled);
  REQUIRE(s->remove("B").ok());
  CHECK(s->remove("B").code == Code::kNotFound);
  CHECK(open_ok(file)->records().size() == 1);
}

TEST_CASE("peer store: a corrupt file is refused with its name") {
  TempDir dir;
  const fs::path file = dir.path / "peering.json";
  std::ofstream(file) << "{\"peers\": [ {\"node_id\": \"B\", \"state\": \"bogus\"} ]}";
  std::string error;
  CHECK(PeerStore::open(file.string(), error) == nullptr);
  CHECK(error.find(file.string()) != std::string::npos);
  std::ofstream(file, std::ios::trunc) << "not json";
  CHECK(PeerStore::open(file.string(), error) == nullptr);
  std::ofstream(file, std::ios::trunc) << std::string(100, '[');
  CHECK(PeerStore::open(file.string(), error) == nullptr);
  CHECK(error.find("nested") != std::string::npos);
}

TEST_CASE("peer store: an invitation is used once, atomically with the record") {
  TempDir dir;
  auto s = open_ok(dir.path / "peering.json");
  const int64_t now = 1000;
  REQUIRE(s->add_invitation({"c1", "B", now, now + 60, false}, now).ok());
  // A second invitation for B replaces the unused first one.
  REQUIRE(s->add_invitation({"c2", "B", now, now + 60, false}, now).ok());
  REQUIRE(s->invitation_for("B"));
  CHECK(s->invitation_for("B")->code == "c2");
  CHECK(s->complete_weave("c1", record("B"), now).code == Code::kAuthCodeExpired);
  CHECK_FALSE(s->find("B"));
  REQUIRE(s->complete_weave("c2", record("B"), now).ok());
  CHECK(s->find("B"));
  CHECK(s->invitation_for("B")->used);
  CHECK(s->complete_weave("c2", record("B"), now).code == Code::kAuthCodeExpired);
  // Used survives a reopen.
  auto again = open_ok(dir.path / "peering.json");
  CHECK(again->invitation_for("B")->used);
  // Expired: refused, and pruned by the next add.
  REQUIRE(s->add_invitation({"c3", "C", now, now + 10, false}, now).ok());
  CHECK(s->complete_weave("c3", record("C"), now + 11).code == Code::kAuthCodeExpired);
  REQUIRE(s->add_invitation({"c4", "D", now + 20, now + 80, false}, now + 20).ok());
  CHECK_FALSE(s->invitation_for("C"));
  CHECK(s->invitation_for("D"));
}

TEST_CASE("peer store: bounded invitations and records") {
  TempDir dir;
  auto s = open_ok(dir.path / "peering.json");
  for (size_t i = 0; i < PeerStore::kMaxInvitations; ++i)
    REQUIRE(s->add_invitation({"c" + std::to_string(i), "N" + std::to_string(i), 0, 100, false}, 0)
                .ok());
  CHECK(s->add_invitation({"x", "X", 0, 100, false}, 0).code == Code::kBufferFull);
  // Once they expired, they are pruned and there is room again.
  CHECK(s->add_invitation({"x", "X", 200, 300, false}, 200).ok());
}

TEST_CASE("peer store: a pending join is completed by the ack") {
  TempDir dir;
  auto s = open_ok(dir.path / "peering.json");
  REQUIRE(s->add_join({"A", "INST_A", "127.0.0.1:17900", std::string(64, 'b'), "code", 10, 100}, 10)
              .ok());
  REQUIRE(s->join_for("A"));
  CHECK(open_ok(dir.path / "peering.json")->join_for("A"));
  REQUIRE(s->complete_join(record("A")).ok());
  CHECK_FALSE(s->join_for("A"));
  CHECK(s->find("A"));
}

TEST_CASE(
    "overlay: dynamic records become peers, the file's peers win, pending ones are not routed") {
  auto base = std::make_shared<Config>();
  base->node_id = "A";
  base->identity.dir = "/id";
  PeerConfig yaml;
  yaml.node_id = "C";
  yaml.address = Endpoint{"10.0.0.3", 9000};
  base->peers.push_back(yaml);
  PeerRecord b = record("B");
  b.address = "node-b.example:17901";
  std::vector<PeerRecord> recs{b, record("C"), record("P", PeerState::kPending),
                               record("D", PeerState::kDisabled)};
  recs.push_back(record("E"));
  recs.back().address = "no-port";
  ConfigPtr eff = overlay_peers(base, recs);
  REQUIRE(eff);
  REQUIRE(eff->dynamic_peers.size() == 2);
  CHECK(eff->dynamic_peers[0].node_id == "B");  // sorted by node id
  CHECK(eff->dynamic_peers[1].node_id == "D");
  CHECK(find_dynamic_peer(eff->dynamic_peers, "D")->state == PeerState::kDisabled);
  CHECK_FALSE(find_dynamic_peer(eff->dynamic_peers, "C"));  // the file's peer
  CHECK_FALSE(find_dynamic_peer(eff->dynamic_peers, "A"));
  CHECK(eff->peers.size() == 3);
  const PeerConfig* pb = find_peer(*eff, "B");
  REQUIRE(pb);
  CHECK(pb->dynamic);
  CHECK(pb->address->host == "node-b.example");
  CHECK(pb->address->port == 17901);
  CHECK(pb->tls.enabled);
  CHECK(pb->tls.cert_file == "/id/tls.crt");
  CHECK(pb->tls.key_file == "/id/tls.key");
  CHECK(pb->root_pem == b.root_pem);
  CHECK(pb->auth_mode == AuthMode::kSignature);
  CHECK(pb->expires_at == 5000);
  CHECK_FALSE(find_peer(*eff, "C")->dynamic);
  CHECK_FALSE(find_peer(*eff, "P"));
  CHECK(find_peer(*eff, "D")->state == PeerState::kDisabled);
  CHECK(parse_endpoint("[::1]:80")->host == "::1");
  CHECK_FALSE(parse_endpoint("h:0"));
  CHECK_FALSE(parse_endpoint("h:x"));
}

TEST_CASE("config store: the overlay applies to every snapshot it publishes") {
  auto base = std::make_shared<Config>();
  base->node_id = "A";
  ConfigStore store(base);
  std::vector<PeerRecord> recs;
  store.set_overlay([&](const ConfigPtr& b) { return overlay_peers(b, recs); });
  CHECK(store.current()->peers.empty());
  recs.push_back(record("B"));
  CHECK(store.current()->peers.empty());
  const uint64_t gen = store.generation();
  store.republish();
  CHECK(store.generation() == gen + 1);
  REQUIRE(store.current()->peers.size() == 1);
  CHECK(store.base()->peers.empty());
}
