#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "gateway/config/config.h"
#include "gateway/pipeline/token.h"

using namespace ptp;

namespace {

constexpr int64_t kNow = 1700000000;
const std::string kKeyA = "demo-key-for-A";

AuthConfig auth() {
  AuthConfig a;
  a.enabled = true;
  a.node_keys = {{"A", kKeyA}, {"B", "demo-key-for-B"}};
  a.max_clock_skew = std::chrono::seconds(300);
  return a;
}

PtpHeader header(std::string token) {
  PtpHeader h;
  h.source_node_id = "A";
  h.target_node_id = "B";
  h.session_id = "s-1";
  h.token = std::move(token);
  return h;
}

std::string good_token(int64_t expiry = kNow + 60) {
  return mint_token(kKeyA, "A", "B", "s-1", expiry);
}

}  // namespace

TEST_CASE("mint_token has the documented format and value") {
  // The exact message layout is checked against an independently computed value:
  // printf 'ptp-token-v1\nA\nB\ns-1\n1700000060' | openssl dgst -sha256 -hmac demo-key-for-A
  std::string t = good_token();
  CHECK(t == "v1.1700000060.39e43cb353e8dba24d96e2341c92157d94b2f00b40b18951e0c19894acf664b9");
}

TEST_CASE("mint_token under crypto gm: a g1 token, HMAC-SM3 with its own label") {
  // printf 'ptp-token-g1\nA\nB\ns-1\n1700000060' | openssl dgst -sm3 -hmac demo-key-for-A
  std::string t = mint_token(kKeyA, "A", "B", "s-1", kNow + 60, MacDigest::kSm3);
  CHECK(t == "g1.1700000060.3c649c6e8e65aa120a37dc6f48e4644f6ef4e91279be05abfeab4eeb30ad0427");
  CHECK(token_version(MacDigest::kSm3) == "g1");
  CHECK(token_version(MacDigest::kSha256) == "v1");
}

TEST_CASE("verify_token takes only the tokens of its profile and names the other one") {
  AuthConfig gm = auth();
  gm.token_mac = MacDigest::kSm3;
  const std::string g1 = mint_token(kKeyA, "A", "B", "s-1", kNow + 60, MacDigest::kSm3);
  CHECK(verify_token(gm, header(g1), kNow).ok());
  Status s = verify_token(gm, header(good_token()), kNow);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message ==
        "token is v1 (HMAC-SHA256); this gateway takes g1 tokens (HMAC-SM3, crypto: gm)");
  s = verify_token(auth(), header(g1), kNow);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message ==
        "token is g1 (HMAC-SM3); this gateway takes v1 tokens (HMAC-SHA256, crypto: "
        "international)");
  CHECK(verify_token(gm, header("garbage"), kNow).message ==
        "malformed token (expected g1.<expiry>.<hmac>)");
  CHECK(verify_token(gm, header("g1.17x.00"), kNow).message ==
        "malformed token (expected g1.<expiry>.<hmac>)");
  // The g1 MAC binds like v1's: another key, session or target fails.
  for (const std::string& t : {mint_token("wrong", "A", "B", "s-1", kNow + 60, MacDigest::kSm3),
                               mint_token(kKeyA, "A", "B", "s-2", kNow + 60, MacDigest::kSm3),
                               mint_token(kKeyA, "A", "C", "s-1", kNow + 60, MacDigest::kSm3)})
    CHECK(verify_token(gm, header(t), kNow).message ==
          "token does not match (session/source/target binding)");
  // A g1 token whose MAC is v1's for the same fields is no g1 token.
  std::string relabelled = good_token();
  relabelled[0] = 'g';
  CHECK(verify_token(gm, header(relabelled), kNow).message ==
        "token does not match (session/source/target binding)");
  // One long-lived context follows the profile of each check.
  Hmac mac;
  CHECK(verify_token(gm, header(g1), kNow, mac).ok());
  CHECK(mac.digest() == MacDigest::kSm3);
  CHECK(verify_token(auth(), header(good_token()), kNow, mac).ok());
  CHECK(verify_token(gm, header(g1), kNow, mac).ok());
}

TEST_CASE("verify_token accepts a fresh token and one within the clock skew") {
  CHECK(verify_token(auth(), header(good_token()), kNow).ok());
  CHECK(verify_token(auth(), header(good_token(kNow - 299)), kNow).ok());
  CHECK(verify_token(auth(), header(good_token(kNow - 300)), kNow).ok());
}

TEST_CASE("auth disabled accepts anything") {
  AuthConfig a = auth();
  a.enabled = false;
  CHECK(verify_token(a, header(""), kNow).ok());
  CHECK(verify_token(a, header("garbage"), kNow).ok());
}

TEST_CASE("verify_token failures are forbidden with distinct messages") {
  auto check_fail = [](const PtpHeader& h, const std::string& message) {
    Status s = verify_token(auth(), h, kNow);
    CHECK(s.code == Code::kForbidden);
    CHECK(s.message == message);
    CHECK(s.message.find(kKeyA) == std::string::npos);
    if (!h.token.empty()) CHECK(s.message.find(h.token) == std::string::npos);
  };
  const std::string malformed = "malformed token (expected v1.<expiry>.<hmac>)";
  check_fail(header(""), "missing token (x-ptp-token)");
  check_fail(header("abc"), malformed);
  check_fail(header("v2." + good_token().substr(3)), malformed);
  check_fail(header("v1.1700000060"), malformed);
  check_fail(header("v1..abc"), malformed);
  check_fail(header("v1.-5." + std::string(64, 'a')), malformed);
  check_fail(header("v1.01700000060." + good_token().substr(14)), malformed);
  check_fail(header("v1.x1700000060." + good_token().substr(14)), malformed);
  std::string upper = good_token();
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  check_fail(header("v1." + upper.substr(3)), malformed);
  check_fail(header(good_token() + "0"), malformed);
  check_fail(header(good_token().substr(0, good_token().size() - 1)), malformed);

  PtpHeader unknown = header(mint_token("k", "Q", "B", "s-1", kNow + 60));
  unknown.source_node_id = "Q";
  check_fail(unknown, "no key configured for source node 'Q'");

  // Binding: changing any bound field breaks the MAC.
  const std::string mismatch = "token does not match (session/source/target binding)";
  PtpHeader h = header(good_token());
  h.session_id = "s-2";
  check_fail(h, mismatch);
  h = header(good_token());
  h.target_node_id = "C";
  check_fail(h, mismatch);
  h = header(good_token());
  h.source_node_id = "B";  // B's key is configured, but the token was minted with A's
  check_fail(h, mismatch);
  check_fail(header(mint_token("wrong-key", "A", "B", "s-1", kNow + 60)), mismatch);
  // Tampering with the expiry invalidates the MAC.
  std::string t = good_token();
  check_fail(header("v1.1800000000" + t.substr(t.find('.', 3))), mismatch);

  Status s = verify_token(auth(), header(good_token(kNow - 301)), kNow);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message == "token expired 301 s ago (allowed clock skew 300 s)");
}

TEST_CASE("source node ids are sanitized in messages") {
  PtpHeader h = header(good_token());
  h.source_node_id = std::string("evil\n'") + std::string(100, 'x');
  Status s = verify_token(auth(), h, kNow);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message.find('\n') == std::string::npos);
  CHECK(s.message.size() < 120);
}

TEST_CASE("Hmac matches RFC 4231 and re-keys correctly when reused") {
  auto hex = [](const Hmac::Digest& d) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : d) s += {kHex[c >> 4], kHex[c & 15]};
    return s;
  };
  Hmac mac;
  Hmac::Digest d{};
  // Each key twice, interleaved: one context must not carry a key over to the next call.
  for (int round = 0; round < 2; ++round) {
    for (int same_key = 0; same_key < 2; ++same_key) {
      REQUIRE(mac.compute("Jefe", "what do ya want for nothing?", d));  // RFC 4231 case 2
      CHECK(hex(d) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
    REQUIRE(mac.compute("Jefe", "", d));
    CHECK(hex(d) == "923598ca6d64af2a5dba79dcd021a8a0fe5c5f557519adaaf0ad532d4506dd30");
    REQUIRE(mac.compute("", "", d));
    CHECK(hex(d) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  }
  // A message given in parts has the MAC of their concatenation.
  const std::string_view parts[] = {"what do ya ", "", "want for nothing?"};
  REQUIRE(mac.compute("Jefe", parts, d));
  CHECK(hex(d) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // verify_token with a long-lived context agrees with the one-shot form.
  CHECK(verify_token(auth(), header(good_token()), kNow, mac).ok());
  CHECK(verify_token(auth(), header(mint_token("wrong", "A", "B", "s-1", kNow + 60)), kNow, mac)
            .code == Code::kForbidden);
  CHECK(verify_token(auth(), header(good_token()), kNow, mac).ok());
}

TEST_CASE("Hmac with SM3 matches openssl and switches digests on one context") {
  auto hex = [](const Hmac::Digest& d) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : d) s += {kHex[c >> 4], kHex[c & 15]};
    return s;
  };
  // printf 'what do ya want for nothing?' | openssl dgst -sm3 -hmac Jefe
  const std::string sm3 = "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882";
  const std::string sha256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  Hmac mac(MacDigest::kSm3);
  CHECK(mac.digest() == MacDigest::kSm3);
  Hmac::Digest d{};
  REQUIRE(mac.compute("Jefe", "what do ya want for nothing?", d));
  CHECK(hex(d) == sm3);
  // Switched with the same key: re-keyed, not carried over.
  mac.set_digest(MacDigest::kSha256);
  REQUIRE(mac.compute("Jefe", "what do ya want for nothing?", d));
  CHECK(hex(d) == sha256);
  mac.set_digest(MacDigest::kSm3);
  REQUIRE(mac.compute("Jefe", "what do ya want for nothing?", d));
  CHECK(hex(d) == sm3);
  CHECK(mac_digest_name(MacDigest::kSm3) == "HMAC-SM3");
  CHECK(mac_digest_name(MacDigest::kSha256) == "HMAC-SHA256");
}

namespace {

ConfigPtr config_with(AuthConfig a) {
  auto c = std::make_shared<Config>();
  c->auth = std::move(a);
  return c;
}

}  // namespace

TEST_CASE("verified-token cache: a hit is bound to source, target, session, expiry and config") {
  Hmac hmac;
  VerifiedTokens verified(4);
  ConfigPtr cfg = config_with(auth());
  const PtpHeader h = header(good_token());
  REQUIRE(verify_token(cfg, h, kNow, hmac, verified).ok());
  CHECK(verified.size() == 1);
  CHECK(verify_token(cfg, h, kNow, hmac, verified).ok());  // from the cache
  CHECK(verified.size() == 1);

  // The same token claimed for another session, target or source is checked in full.
  for (auto change : {&PtpHeader::session_id, &PtpHeader::target_node_id}) {
    PtpHeader other = h;
    other.*change = "other";
    Status s = verify_token(cfg, other, kNow, hmac, verified);
    CHECK(s.code == Code::kForbidden);
    CHECK(s.message == "token does not match (session/source/target binding)");
  }
  PtpHeader from_b = h;
  from_b.source_node_id = "B";
  CHECK(verify_token(cfg, from_b, kNow, hmac, verified).code == Code::kForbidden);
  CHECK(verified.size() == 1);  // failures are not remembered

  // A remembered token still expires.
  Status late = verify_token(cfg, h, kNow + 60 + 301, hmac, verified);
  CHECK(late.code == Code::kForbidden);
  CHECK(late.message == "token expired 301 s ago (allowed clock skew 300 s)");

  // A new snapshot (here: A's key rotated) forgets what the old one verified.
  AuthConfig rotated = auth();
  rotated.node_keys["A"] = "a-new-key-for-A";
  ConfigPtr next = config_with(rotated);
  CHECK(verify_token(next, h, kNow, hmac, verified).code == Code::kForbidden);
  CHECK(verified.size() == 0);

  // Full: the cache starts over and keeps working.
  for (int i = 0; i < 6; ++i) {
    PtpHeader s = header(mint_token(kKeyA, "A", "B", "s-" + std::to_string(i), kNow + 60));
    s.session_id = "s-" + std::to_string(i);
    CHECK(verify_token(cfg, s, kNow, hmac, verified).ok());
    CHECK(verified.size() <= 4);
  }
  CHECK(verify_token(cfg, h, kNow, hmac, verified).ok());
}

TEST_CASE("a token valid for longer than auth.max_token_lifetime is refused") {
  AuthConfig a = auth();
  a.max_token_lifetime = std::chrono::seconds(3600);
  // Up to the lifetime plus the skew (the minting clock may be ahead) is accepted.
  CHECK(verify_token(a, header(good_token(kNow + 3600)), kNow).ok());
  CHECK(verify_token(a, header(good_token(kNow + 3900)), kNow).ok());
  Status s = verify_token(a, header(good_token(kNow + 3901)), kNow);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message ==
        "token expiry is 3901 s ahead, beyond the maximum token lifetime of 3600 s "
        "(auth.max_token_lifetime_s, allowed clock skew 300 s)");
  const int64_t max = std::numeric_limits<int64_t>::max();
  s = verify_token(a, header(good_token(max)), kNow);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message.find("beyond the maximum token lifetime") != std::string::npos);
  // The default is one day; a far expiry is refused with it too.
  CHECK(verify_token(auth(), header(good_token(max)), kNow).code == Code::kForbidden);
  CHECK(verify_token(auth(), header(good_token(kNow + 86400)), kNow).ok());
  // Only authentic tokens learn about it: a bad MAC is reported as such.
  std::string t = good_token(max);
  t.back() = t.back() == 'a' ? 'b' : 'a';
  CHECK(verify_token(a, header(t), kNow).message ==
        "token does not match (session/source/target binding)");
  // A remembered token is held to the bound of the snapshot that checks it.
  Hmac hmac;
  VerifiedTokens verified;
  AuthConfig wide = auth();
  wide.max_token_lifetime = std::chrono::seconds(7 * 86400);
  const PtpHeader two_days = header(good_token(kNow + 2 * 86400));
  CHECK(verify_token(config_with(wide), two_days, kNow, hmac, verified).ok());
  CHECK(verify_token(config_with(auth()), two_days, kNow, hmac, verified).code == Code::kForbidden);
}
