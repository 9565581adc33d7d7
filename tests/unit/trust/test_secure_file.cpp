#include <doctest/doctest.h>
#include <sys/stat.h>

#include "trust/secure_file.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::TrustTempDir;

namespace {

unsigned file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("secure file: created once with its mode, never overwritten") {
  TrustTempDir dir;
  const std::string path = dir.file("a");
  std::string error;
  REQUIRE_MESSAGE(write_new_file(path, "one", 0600, error), error);
  CHECK(file_mode(path) == 0600);
  CHECK(dir.read("a") == "one");
  CHECK_FALSE(write_new_file(path, "two", 0600, error));
  CHECK(error == "refusing to overwrite the existing file " + path);
  CHECK(dir.read("a") == "one");
  // Not through a symbolic link either.
  std::filesystem::create_symlink(dir.file("target"), dir.file("link"));
  CHECK_FALSE(write_new_file(dir.file("link"), "x", 0600, error));
  CHECK_FALSE(std::filesystem::exists(dir.file("target")));
  CHECK_FALSE(write_new_file(dir.file("missing/dir/f"), "x", 0600, error));
  CHECK(error.find("cannot create " + dir.file("missing/dir/f") + ": ") == 0);
}

TEST_CASE("secure file: replaced atomically with the new mode, no temporary left") {
  TrustTempDir dir;
  const std::string path = dir.file("b");
  std::string error;
  REQUIRE_MESSAGE(replace_file(path, "first", 0644, error), error);
  CHECK(dir.read("b") == "first");
  CHECK(file_mode(path) == 0644);
  // A temporary left by an interrupted replacement does not block the next one.
  dir.write("b.tmp", "stale");
  REQUIRE_MESSAGE(replace_file(path, "second", 0600, error), error);
  CHECK(dir.read("b") == "second");
  CHECK(file_mode(path) == 0600);
  CHECK_FALSE(std::filesystem::exists(dir.file("b.tmp")));
}

TEST_CASE("secure file: read with a size bound") {
  TrustTempDir dir;
  dir.write("c", std::string(100, 'x'));
  std::string error;
  auto whole = read_small_file(dir.file("c"), 100, error);
  REQUIRE(whole.has_value());
  CHECK(whole->size() == 100);
  CHECK_FALSE(read_small_file(dir.file("c"), 99, error).has_value());
  CHECK(error == dir.file("c") + " is larger than 99 bytes");
  CHECK_FALSE(read_small_file(dir.file("none"), 99, error).has_value());
  CHECK(error.find("cannot open " + dir.file("none") + ": ") == 0);
}

TEST_CASE("secure file: several files replaced together") {
  TrustTempDir dir;
  dir.write("k", "old key");
  dir.write("c", "old cert");
  std::string error;
  REQUIRE_MESSAGE(
      replace_files({{dir.file("k"), "new key", 0600}, {dir.file("c"), "new cert", 0644}}, error),
      error);
  CHECK(dir.read("k") == "new key");
  CHECK(dir.read("c") == "new cert");
  CHECK(file_mode(dir.file("k")) == 0600);
  CHECK(file_mode(dir.file("c")) == 0644);
  // One file that cannot be written: nothing is replaced, no temporary left behind.
  CHECK_FALSE(
      replace_files({{dir.file("k"), "newer", 0600}, {dir.file("no/such"), "x", 0644}}, error));
  CHECK(dir.read("k") == "new key");
  CHECK_FALSE(std::filesystem::exists(dir.file("k.tmp")));
}
