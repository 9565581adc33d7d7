// HeaderList: name/value pairs in one buffer (codecs/header_list.h).
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "codecs/header_list.h"

using namespace ptp;

TEST_CASE("HeaderList keeps fields in order, duplicates included") {
  HeaderList h;
  CHECK(h.empty());
  h.emplace_back("x-a", "1");
  h.emplace_back("x-long-name-beyond-small-string", std::string(300, 'v'));
  h.emplace_back("x-a", "");
  REQUIRE(h.size() == 3);
  CHECK(h[0].first == "x-a");
  CHECK(h[0].second == "1");
  CHECK(h[1].second == std::string(300, 'v'));
  CHECK(h[2].second.empty());
  std::string joined;
  for (const auto& [name, value] : h) joined += std::string(name) + "=" + std::string(value) + ";";
  CHECK(joined == "x-a=1;x-long-name-beyond-small-string=" + std::string(300, 'v') + ";x-a=;");
}

TEST_CASE("HeaderList copies own their bytes; lower-cased names; equality by fields") {
  HeaderList a{{"Content-Type", "text/plain"}};
  a.emplace_back_lowered_name("X-PTP-Code", "E0000000000");
  CHECK(a[1].first == "x-ptp-code");
  CHECK(a[1].second == "E0000000000");  // values keep their case
  HeaderList b = a;
  a.clear();
  a.emplace_back("other", "bytes that overwrite the old buffer");
  REQUIRE(b.size() == 2);
  CHECK(b[0] == HeaderList::Field{"Content-Type", "text/plain"});
  CHECK(b == HeaderList{{"Content-Type", "text/plain"}, {"x-ptp-code", "E0000000000"}});
  CHECK_FALSE(b == HeaderList{{"Content-Type", "text/plain"}});
  HeaderList moved = std::move(b);
  CHECK(moved.size() == 2);
  CHECK(moved[1].first == "x-ptp-code");
}

TEST_CASE("HeaderList erase_if drops matching fields and keeps the others' order") {
  HeaderList h{{"a", "1"}, {"date", "x"}, {"b", "2"}, {"date", "y"}, {"c", "3"}};
  CHECK(erase_if(h, [](const HeaderList::Field& f) { return f.first == "date"; }) == 2);
  CHECK(h == HeaderList{{"a", "1"}, {"b", "2"}, {"c", "3"}});
  h.emplace_back("d", "4");  // appending after an erase still works
  CHECK(h[3] == HeaderList::Field{"d", "4"});
}

TEST_CASE("find_header gives the first value of an exactly named field") {
  HeaderList h{{"x-a", "1"}, {"X-B", "2"}, {"x-a", "3"}};
  CHECK(find_header(h, "x-a") == "1");
  CHECK(find_header(h, "X-B") == "2");
  CHECK(find_header(h, "x-b").empty());
  CHECK(find_header(HeaderList{}, "x-a").empty());
}

TEST_CASE("HeaderList from a map of metadata") {
  std::map<std::string, std::string> md{{"b", "2"}, {"a", "1"}};
  HeaderList h(md.begin(), md.end());
  CHECK(h == HeaderList{{"a", "1"}, {"b", "2"}});
}
