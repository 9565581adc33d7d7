#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "codecs/control_chars.h"
#include "codecs/utf8.h"
#include "codecs/validate.h"

using namespace ptp;

namespace {

Envelope node_request() {
  Envelope e;
  e.header = {"1",      "VND",    "trace.1", "tok",    "/svc",
              "sess:1", "node-a", "node_b",  "inst-a", "inst-b"};
  return e;
}

Envelope container_request() {
  Envelope e;
  e.header.tech_provider_code = "VND";
  e.header.trace_id = "t1";
  e.header.token = "tok";
  e.header.session_id = "s1";
  e.header.target_node_id = "B";
  return e;
}

bool mentions(const Status& s, std::string_view what) {
  return s.message.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("is_valid_id") {
  CHECK(is_valid_id("node-A.1_x:9"));
  CHECK_FALSE(is_valid_id(""));
  CHECK_FALSE(is_valid_id("a b"));
  CHECK_FALSE(is_valid_id("a/b"));
  CHECK_FALSE(is_valid_id("é"));
}

TEST_CASE("complete requests pass") {
  ValidationLimits lim;
  CHECK(validate_request(node_request(), Interface::kInvoke, lim).ok());
  CHECK(validate_request(node_request(), Interface::kTransport, lim).ok());
  for (auto i : {Interface::kPush, Interface::kPop, Interface::kPeek, Interface::kRelease})
    CHECK(validate_request(container_request(), i, lim).ok());
}

TEST_CASE("node-to-node requests need all eight fields") {
  const std::pair<std::string PtpHeader::*, std::string_view> required[] = {
      {&PtpHeader::version, "x-ptp-version"},
      {&PtpHeader::tech_provider_code, "x-ptp-tech-provider-code"},
      {&PtpHeader::trace_id, "x-ptp-trace-id"},
      {&PtpHeader::token, "x-ptp-token"},
      {&PtpHeader::uri, "x-ptp-uri"},
      {&PtpHeader::session_id, "x-ptp-session-id"},
      {&PtpHeader::source_node_id, "x-ptp-source-node-id"},
      {&PtpHeader::target_node_id, "x-ptp-target-node-id"},
  };
  for (auto [member, name] : required) {
    CAPTURE(name);
    Envelope e = node_request();
    e.header.*member = "";
    Status s = validate_request(e, Interface::kInvoke, {});
    CHECK(s.code == Code::kBadRequest);
    CHECK(s.message == "missing required header " + std::string(name));
    CHECK_FALSE(validate_request(e, Interface::kTransport, {}).ok());
  }
  Envelope e = node_request();
  e.header.source_inst_id.clear();
  e.header.target_inst_id.clear();
  CHECK(validate_request(e, Interface::kInvoke, {}).ok());
}

TEST_CASE("container requests need five fields; source node is the gateway's job") {
  const std::pair<std::string PtpHeader::*, std::string_view> required[] = {
      {&PtpHeader::tech_provider_code, "x-ptp-tech-provider-code"},
      {&PtpHeader::trace_id, "x-ptp-trace-id"},
      {&PtpHeader::token, "x-ptp-token"},
      {&PtpHeader::session_id, "x-ptp-session-id"},
      {&PtpHeader::target_node_id, "x-ptp-target-node-id"},
  };
  for (auto [member, name] : required) {
    CAPTURE(name);
    Envelope e = container_request();
    e.header.*member = "";
    Status s = validate_request(e, Interface::kPush, {});
    CHECK(s.code == Code::kBadRequest);
    CHECK(s.message == "missing required header " + std::string(name));
  }
  // Version, uri and source node are not required from containers.
  CHECK(container_request().header.source_node_id.empty());
  CHECK(validate_request(container_request(), Interface::kPop, {}).ok());
  CHECK_FALSE(validate_request(container_request(), Interface::kInvoke, {}).ok());
}

TEST_CASE("over-long fields and meta values are rejected by name") {
  ValidationLimits lim;
  lim.max_field_length = 8;
  Envelope e = container_request();
  e.header.token = std::string(8, 'x');
  CHECK(validate_request(e, Interface::kPush, lim).ok());
  e.header.token = std::string(9, 'x');
  Status s = validate_request(e, Interface::kPush, lim);
  CHECK(s.code == Code::kBadRequest);
  CHECK(mentions(s, "x-ptp-token"));

  e = container_request();
  e.meta["message-topic"] = std::string(9, 't');
  s = validate_request(e, Interface::kPush, lim);
  CHECK(s.code == Code::kBadRequest);
  CHECK(mentions(s, "message-topic"));
}

TEST_CASE("control characters are rejected by name") {
  for (char c : {'\0', '\n', '\r', '\t', '\x1f', '\x7f'}) {
    Envelope e = node_request();
    e.header.uri = std::string("/a") + c + "b";
    Status s = validate_request(e, Interface::kInvoke, {});
    CHECK(s.code == Code::kBadRequest);
    CHECK(mentions(s, "x-ptp-uri"));
  }
  Envelope e = container_request();
  e.meta["job-id"] = "a\nb";
  Status s = validate_request(e, Interface::kPush, {});
  CHECK(s.code == Code::kBadRequest);
  CHECK(mentions(s, "job-id"));
  // Non-id fields may hold other printable text.
  e = container_request();
  e.header.token = "Bearer a/b+c=";
  CHECK(validate_request(e, Interface::kPush, {}).ok());
}

TEST_CASE("ids are limited to [A-Za-z0-9._:-]") {
  std::pair<std::string PtpHeader::*, std::string_view> ids[] = {
      {&PtpHeader::trace_id, "x-ptp-trace-id"},
      {&PtpHeader::session_id, "x-ptp-session-id"},
      {&PtpHeader::source_node_id, "x-ptp-source-node-id"},
      {&PtpHeader::target_node_id, "x-ptp-target-node-id"},
      {&PtpHeader::source_inst_id, "x-ptp-source-inst-id"},
      {&PtpHeader::target_inst_id, "x-ptp-target-inst-id"},
  };
  for (auto [member, name] : ids) {
    CAPTURE(name);
    Envelope e = node_request();
    e.header.*member = "bad/id";
    Status s = validate_request(e, Interface::kInvoke, {});
    CHECK(s.code == Code::kBadRequest);
    CHECK(mentions(s, name));
  }
}

TEST_CASE("body over the limit is kTooLarge") {
  ValidationLimits lim;
  lim.max_body_bytes = 4;
  Envelope e = node_request();
  e.body = "1234";
  CHECK(validate_request(e, Interface::kInvoke, lim).ok());
  e.body = "12345";
  CHECK(validate_request(e, Interface::kInvoke, lim).code == Code::kTooLarge);
}

TEST_CASE("has_control_char finds a control character or DEL at any position") {
  for (size_t len = 1; len <= 19; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (char bad : {'\0', '\r', '\n', '\x1f', '\x7f'}) {
        std::string s(len, 'a');
        s[at] = bad;
        CAPTURE(len);
        CAPTURE(at);
        CHECK(has_control_char(s, Tab::kAllowed));
        CHECK(has_control_char(s, Tab::kControl));
      }
      std::string tab(len, 'b');
      tab[at] = '\t';
      CHECK_FALSE(has_control_char(tab, Tab::kAllowed));
      CHECK(has_control_char(tab, Tab::kControl));
    }
    CHECK_FALSE(has_control_char(std::string(len, ' '), Tab::kControl));
    CHECK_FALSE(has_control_char(std::string(len, '\x80'), Tab::kControl));
    CHECK_FALSE(has_control_char(std::string(len, '\xff'), Tab::kControl));
    CHECK_FALSE(has_control_char(std::string(len, '~'), Tab::kControl));
  }
  CHECK_FALSE(has_control_char("", Tab::kControl));
}

// The header fields and the topic are signed and recorded in the evidence log, which is
// JSON: bytes that are not UTF-8 would be recorded as U+FFFD and the record would no longer
// prove the message (docs/evidence.md), so they are refused; well-formed UTF-8 passes.
TEST_CASE("header fields and the topic must be UTF-8; other metadata need not") {
  Envelope e = node_request();
  e.header.uri = "/svc/\"q\\b/\xc3\xa9/\xf0\x9f\x98\x80";
  CHECK(validate_request(e, Interface::kInvoke, {}).ok());
  for (const char* bad : {"/svc/\xff", "/svc/\xc0\xaf", "/svc/\xed\xa0\x80", "/svc/\xc3"}) {
    e.header.uri = bad;
    const Status st = validate_request(e, Interface::kInvoke, {});
    CHECK(st.code == Code::kBadRequest);
    CHECK(mentions(st, "header x-ptp-uri is not valid UTF-8"));
  }
  e = node_request();
  e.meta["message-topic"] = "t\xfe";
  CHECK(
      mentions(validate_request(e, Interface::kTransport, {}), "message-topic is not valid UTF-8"));
  e.meta["message-topic"] = "t";
  e.meta["x-other"] = "latin-1 \xe9";
  CHECK(validate_request(e, Interface::kTransport, {}).ok());
}

// The same answers as the two passes validate_request made before (control characters
// over the whole field, then UTF-8, then the id characters), for any bytes.
namespace {

Status two_pass_answer(std::string_view what, std::string_view v, bool utf8, bool id) {
  const std::string w(what);
  if (has_control_char(v, Tab::kControl))
    return Status::Error(Code::kBadRequest, w + " contains a control character");
  if (utf8 && !is_valid_utf8(v)) return Status::Error(Code::kBadRequest, w + " is not valid UTF-8");
  if (id && !is_valid_id(v))
    return Status::Error(Code::kBadRequest, w + " has characters outside [A-Za-z0-9._:-]");
  return Status::Ok();
}

void check_same_answers(const std::string& v) {
  CAPTURE(v);
  Envelope e = node_request();
  e.header.uri = v.empty() ? "/svc" : v;
  Status got = validate_request(e, Interface::kInvoke, {});
  Status want = two_pass_answer("header x-ptp-uri", e.header.uri, true, false);
  CHECK(got.code == want.code);
  CHECK(got.message == want.message);
  e = node_request();
  e.header.trace_id = v.empty() ? "t" : v;
  got = validate_request(e, Interface::kInvoke, {});
  want = two_pass_answer("header x-ptp-trace-id", e.header.trace_id, true, true);
  CHECK(got.code == want.code);
  CHECK(got.message == want.message);
  e = node_request();
  e.meta["message-topic"] = v;
  got = validate_request(e, Interface::kInvoke, {});
  want = two_pass_answer("metadata message-topic", v, true, false);
  CHECK(got.code == want.code);
  CHECK(got.message == want.message);
  e = node_request();
  e.meta["x-other"] = v;
  got = validate_request(e, Interface::kInvoke, {});
  want = two_pass_answer("metadata x-other", v, false, false);
  CHECK(got.code == want.code);
  CHECK(got.message == want.message);
}

}  // namespace

TEST_CASE("one pass over a field gives the answers of the control and UTF-8 passes") {
  // Bytes around every boundary: controls, tab, DEL, id and other ASCII, continuation
  // bytes, lead bytes of overlong forms (c0 c1 e0 f0), surrogates (ed), the top (f4) and
  // bytes that never lead (f5 ff).
  const std::vector<unsigned char> alphabet = {0x00, 0x09, 0x0a, 0x1f, 0x20, 0x2f, 0x41, 0x7e, 0x7f,
                                               0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                               0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
  // Every string of up to three of them, alone and inside ASCII (in and across words).
  std::vector<std::string> cores = {""};
  for (size_t round = 0; round < 3; ++round) {
    const size_t n = cores.size();
    for (size_t i = 0; i < n; ++i)
      if (cores[i].size() == round)
        for (unsigned char c : alphabet) cores.push_back(cores[i] + static_cast<char>(c));
  }
  for (const std::string& core : cores) {
    check_same_answers(core);
    check_same_answers(std::string(7, 'a') + core);
    check_same_answers(std::string(9, 'a') + core + std::string(5, 'b'));
  }
  // Longer mixes: a fixed pseudo-random sequence over the same bytes.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int n = 0; n < 3000; ++n) {
    std::string v;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const size_t len = x % 48;
    for (size_t i = 0; i < len; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      // Mostly ASCII letters, as real fields, with the others now and then.
      v += x % 4 ? static_cast<char>('a' + x % 26) : static_cast<char>(alphabet[x % 97 % 26]);
    }
    check_same_answers(v);
  }
}
