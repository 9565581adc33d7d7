// The permit store's durability (gateway/permits/permit_store.h): what was acknowledged is
// there after a reopen; a torn last line is dropped; anything else unreadable stops the open;
// a write that fails part-way (a full disk) leaves nothing behind.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "gateway/permits/permit_store.h"
#include "trust/node_key.h"

using namespace ptp;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ptp-permits-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

Permit make_permit(const NodeKey& key, const std::string& id, const std::string& holder,
                   const std::string& grantee, int64_t uses) {
  PermitPayload p;
  p.id = id;
  p.holder = holder;
  p.grantee = grantee;
  p.type = "service";
  p.resource = "svc.*";
  p.not_before = 1;
  p.not_after = 4'000'000'000;
  p.uses = uses;
  std::string error;
  auto permit = issue_permit(key, p, error);
  REQUIRE_MESSAGE(permit.has_value(), error);
  return *permit;
}

std::unique_ptr<PermitStore> open_ok(const std::filesystem::path& dir) {
  std::string error;
  auto s = PermitStore::open(dir.string(), error);
  REQUIRE_MESSAGE(s, error);
  return s;
}

}  // namespace

TEST_CASE("permit store: issued permits, counts, revocations and held permits survive a reopen") {
  TempDir dir;
  std::string error;
  auto key = NodeKey::generate(KeyAlgorithm::kEd25519, error);
  REQUIRE(key);
  const std::string id1(32, 'a'), id2(32, 'b'), id3(32, 'c');
  {
    auto s = open_ok(dir.path);
    CHECK(s->add_issued(make_permit(*key, id1, "B", "A", 3), error));
    CHECK(s->add_issued(make_permit(*key, id2, "B", "C", 0), error));
    CHECK(s->count_use(id1, error));
    CHECK(s->count_use(id1, error));
    CHECK(s->revoke(id2, error));
    CHECK(s->add_held(make_permit(*key, id3, "D", "B", 1), error));
    CHECK_FALSE(s->count_use(std::string(32, 'f'), error));
    CHECK(error.find("no issued permit") != std::string::npos);
  }
  for (int round = 0; round < 2; ++round) {  // reopened twice: the compaction keeps it all
    auto s = open_ok(dir.path);
    REQUIRE(s->issued().size() == 2);
    CHECK(s->issued().at(id1).used == 2);
    CHECK_FALSE(s->issued().at(id1).revoked);
    CHECK(s->issued().at(id1).permit.payload.uses == 3);
    CHECK(s->issued().at(id2).revoked);
    CHECK(s->issued().at(id2).used == 0);
    REQUIRE(s->held().size() == 1);
    CHECK(s->held().at(id3).payload.holder == "D");
  }
  {
    auto s = open_ok(dir.path);
    CHECK(s->remove_held(id3, error));
    CHECK(s->count_use(id1, error));
  }
  auto s = open_ok(dir.path);
  CHECK(s->held().empty());
  CHECK(s->issued().at(id1).used == 3);
  CHECK((std::filesystem::status(dir.path).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
}

TEST_CASE("permit store: a torn last line is dropped, a bad line elsewhere stops the open") {
  TempDir dir;
  std::string error;
  auto key = NodeKey::generate(KeyAlgorithm::kEcdsaP256, error);
  REQUIRE(key);
  const std::string id(32, 'd');
  {
    auto s = open_ok(dir.path);
    CHECK(s->add_issued(make_permit(*key, id, "B", "A", 5), error));
    CHECK(s->count_use(id, error));
  }
  const auto file = dir.path / "permits.log";
  {
    std::ofstream out(file, std::ios::app);
    out << R"({"op":"use","id":")" << id << R"(","cou)";  // a crash mid-write
  }
  {
    auto s = open_ok(dir.path);
    CHECK(s->issued().at(id).used == 1);
  }
  {
    std::ofstream out(file, std::ios::app);
    out << "not json\n"
        << R"({"op":"revoke","id":")" << id << "\"}\n";
  }
  CHECK_FALSE(PermitStore::open(dir.path.string(), error));
  CHECK(error.find("permits.log:") != std::string::npos);
  CHECK(error.find("not a permit store record") != std::string::npos);
}

namespace {

// While it lives, files of this process may not grow beyond `limit` bytes: a write across
// the limit writes what fits and the next one fails (EFBIG; SIGXFSZ ignored meanwhile), as a
// full disk does (ENOSPC) once the last page is used up.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t limit) {
    getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{limit, old_.rlim_max};
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

}  // namespace

TEST_CASE("permit store: a write that fails part-way leaves no torn line, the use is not counted") {
  TempDir dir;
  std::string error;
  auto key = NodeKey::generate(KeyAlgorithm::kEcdsaP256, error);
  REQUIRE(key);
  const std::string id(32, 'f');
  const auto file = dir.path / "permits.log";
  auto s = open_ok(dir.path);
  REQUIRE(s->add_issued(make_permit(*key, id, "B", "A", 5), error));
  REQUIRE(s->count_use(id, error));
  const auto size = std::filesystem::file_size(file);
  {
    FileSizeLimit full(size + 10);  // room for 10 bytes of the next line, not all of it
    CHECK_FALSE(s->count_use(id, error));
    CHECK(error.find("cannot write") != std::string::npos);
    CHECK_FALSE(s->count_use(id, error));  // nothing fits now
  }
  CHECK(std::filesystem::file_size(file) == size);  // the 10 bytes were taken back
  CHECK(s->issued().at(id).used == 1);
  // Space again: the next use is counted, and the file replays whole.
  CHECK(s->count_use(id, error));
  s.reset();
  auto again = open_ok(dir.path);
  CHECK(again->issued().at(id).used == 2);
}
