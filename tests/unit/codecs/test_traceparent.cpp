#include <doctest/doctest.h>

#include "codecs/header_codec.h"
#include "codecs/traceparent.h"

using namespace ptp;

namespace {

// The example of the W3C Trace Context specification.
constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

}  // namespace

TEST_CASE("traceparent: the trace id of a valid value") {
  CHECK(traceparent_trace_id(kValid) == kTrace);
  CHECK(traceparent_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00") == kTrace);
  // A later version may carry more fields after the flags.
  CHECK(traceparent_trace_id("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") ==
        kTrace);
  CHECK(traceparent_trace_id("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == kTrace);
}

TEST_CASE("traceparent: malformed values are ignored") {
  for (std::string_view bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 is exactly 55
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   // no '-' after flags
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version not hex
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",    // flags not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",    // misplaced '-'
       }) {
    CAPTURE(bad);
    CHECK(traceparent_trace_id(bad).empty());
  }
}

TEST_CASE("adopt_traceparent: the trace id when none is given, a bad value dropped") {
  Envelope e;
  e.meta[std::string(kTraceparentHeader)] = std::string(kValid);
  adopt_traceparent(e);
  CHECK(e.header.trace_id == kTrace);
  CHECK(e.meta.at("traceparent") == kValid);  // passed on unchanged

  Envelope given;
  given.header.trace_id = "ptp-trace-1";
  given.meta[std::string(kTraceparentHeader)] = std::string(kValid);
  adopt_traceparent(given);
  CHECK(given.header.trace_id == "ptp-trace-1");  // x-ptp-trace-id wins
  CHECK(given.meta.count("traceparent") == 1);

  Envelope bad;
  bad.meta[std::string(kTraceparentHeader)] = "00-nonsense";
  adopt_traceparent(bad);
  CHECK(bad.header.trace_id.empty());
  CHECK(bad.meta.empty());
}

TEST_CASE("traceparent is decoded into meta and encoded under its own name") {
  Envelope e;
  REQUIRE(decode_headers(HeaderList{{"TraceParent", std::string(kValid)}}, e).ok());
  CHECK(e.meta.at("traceparent") == kValid);
  CHECK(classify_name("traceparent").kind == NameClass::kGateway);
  const HeaderList out = encode_headers(e);
  REQUIRE(out.size() == 1);
  CHECK((*out.begin()).first == "traceparent");
  CHECK((*out.begin()).second == kValid);
}
