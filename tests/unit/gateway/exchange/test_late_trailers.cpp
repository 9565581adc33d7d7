// LateTrailers: the trailers of an answer handed on before they came reach the handler
// exactly once, whether they come before or after the handler is set.
#include <doctest/doctest.h>

#include <string>

#include "gateway/exchange/exchange.h"

namespace ptp {
namespace {

HeaderList receipt(std::string_view value) {
  HeaderList h;
  h.emplace_back("x-ptp-receipt", value);
  return h;
}

TEST_CASE("late trailers: a handler set first gets them when they come, once") {
  LateTrailers late;
  int calls = 0;
  std::string got;
  late.on_trailers([&](HeaderList t) {
    ++calls;
    got = std::string(find_header(t, "x-ptp-receipt"));
  });
  CHECK(calls == 0);
  late.deliver(receipt("r1"));
  CHECK(calls == 1);
  CHECK(got == "r1");
  late.deliver(receipt("r2"));  // only the first delivery counts
  CHECK(calls == 1);
  CHECK(got == "r1");
}

TEST_CASE("late trailers: trailers that came first are held for the handler") {
  LateTrailers late;
  late.deliver(receipt("early"));
  late.deliver(HeaderList());  // ignored
  int calls = 0;
  std::string got;
  late.on_trailers([&](HeaderList t) {
    ++calls;
    got = std::string(find_header(t, "x-ptp-receipt"));
  });
  CHECK(calls == 1);
  CHECK(got == "early");
}

TEST_CASE("late trailers: a stream that ended without them delivers an empty list") {
  LateTrailers late;
  bool called = false;
  size_t size = 99;
  late.on_trailers([&](HeaderList t) {
    called = true;
    size = t.size();
  });
  late.deliver(HeaderList());
  CHECK(called);
  CHECK(size == 0);
}

}  // namespace
}  // namespace ptp
