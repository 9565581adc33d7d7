#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/observability/json_log.h"

using namespace ptp;

namespace {

// A strict little parser for the flat objects JsonLog writes: string keys, values that
// are strings, numbers or null. Returns nullopt on anything that is not valid JSON
// (raw control characters, bad escapes, invalid UTF-8, trailing garbage).
class FlatJson {
 public:
  static std::optional<std::map<std::string, std::string>> parse(std::string_view s) {
    FlatJson p{s};
    std::map<std::string, std::string> out;
    if (!p.eat('{')) return std::nullopt;
    if (!p.eat('}')) {
      do {
        auto key = p.string();
        if (!key || !p.eat(':')) return std::nullopt;
        auto value = p.peek() == '"' ? p.string() : p.scalar();
        if (!value || out.count(*key)) return std::nullopt;  // no duplicate keys
        out[*key] = *value;
      } while (p.eat(','));
      if (!p.eat('}')) return std::nullopt;
    }
    if (p.i_ != s.size()) return std::nullopt;
    return out;
  }

 private:
  explicit FlatJson(std::string_view s) : s_(s) {}
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  std::optional<std::string> scalar() {
    size_t start = i_;
    while (i_ < s_.size() &&
           std::string_view("-+.0123456789eEnul").find(s_[i_]) != std::string_view::npos)
      ++i_;
    std::string v(s_.substr(start, i_ - start));
    if (v.empty()) return std::nullopt;
    if (v == "null") return v;
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    if (*end != '\0') return std::nullopt;
    return v;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) return std::nullopt;
      if (c == '\\') {
        if (i_ >= s_.size()) return std::nullopt;
        char e = s_[i_++];
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'u': {
            if (i_ + 4 > s_.size()) return std::nullopt;
            unsigned cp = 0;
            for (int k = 0; k < 4; ++k) {
              char h = s_[i_++];
              cp <<= 4;
              if (h >= '0' && h <= '9')
                cp |= h - '0';
              else if (h >= 'a' && h <= 'f')
                cp |= h - 'a' + 10;
              else if (h >= 'A' && h <= 'F')
                cp |= h - 'A' + 10;
              else
                return std::nullopt;
            }
            put_utf8(out, cp);
            break;
          }
          default:
            return std::nullopt;
        }
      } else if (c >= 0x80) {
        // Accept only well-formed UTF-8 (lead byte then the right number of continuations).
        int n = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : -1;
        if (n < 0 || i_ + n > s_.size()) return std::nullopt;
        out += static_cast<char>(c);
        for (int k = 0; k < n; ++k) {
          auto cc = static_cast<unsigned char>(s_[i_++]);
          if ((cc & 0xC0) != 0x80) return std::nullopt;
          out += static_cast<char>(cc);
        }
      } else {
        out += static_cast<char>(c);
      }
    }
    return std::nullopt;
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::string json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::chrono::system_clock::time_point fixed_time() {
  // 2024-05-01T12:34:56.789Z
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(1714566896789LL));
}

}  // namespace

TEST_CASE("json_log: string escaping") {
  CHECK(json("plain") == R"("plain")");
  CHECK(json("a\"b\\c") == R"("a\"b\\c")");
  CHECK(json("l1\nl2\r\t") == R"("l1\nl2\r\t")");
  CHECK(json(std::string_view("\x00\x01\x1f\x7f", 4)) == R"("\u0000\u0001\u001f\u007f")");
  CHECK(json("caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80") ==
        "\"caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80\"");
  // Invalid UTF-8: lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF.
  CHECK(json("a\x80"
             "b") == R"("a\ufffdb")");
  CHECK(json("x\xE4\xB8") == R"("x\ufffd\ufffd")");
  CHECK(json("\xC0\xAF") == R"("\ufffd\ufffd")");
  CHECK(json("\xED\xA0\x80") == R"("\ufffd\ufffd\ufffd")");
  CHECK(json("\xF4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")");
  CHECK(json("\xFF") == R"("\ufffd")");
  // Runs of plain characters around escapes, at either end, and appended after other text.
  CHECK(json("\"") == R"("\"")");
  CHECK(json("\\abc") == R"("\\abc")");
  CHECK(json("abc\n") == R"("abc\n")");
  CHECK(json("") == R"("")");
  const std::string hex(64, 'f');
  CHECK(json(hex + "\t" + hex) == "\"" + hex + "\\t" + hex + "\"");
  std::string out = "prefix:";
  append_json_string(out, "a b~\x7f");
  CHECK(out == R"(prefix:"a b~\u007f")");
}

TEST_CASE("json_log: every byte at every position of the 8-byte word checks") {
  // Plain runs are scanned a word at a time: each byte value that needs escaping (or is
  // not ASCII) must be found wherever it sits in the word, also after a full plain word.
  const std::string plain = "0123456789abcdef-_;ABCDEFGH";
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const std::string alone = json(one);  // one byte: no word scan
    const std::string inner = alone.substr(1, alone.size() - 2);
    for (size_t at = 0; at < 20; ++at) {
      std::string s = plain;
      s[at] = static_cast<char>(b);
      const std::string want = "\"" + plain.substr(0, at) + inner + plain.substr(at + 1) + "\"";
      CAPTURE(b);
      CAPTURE(at);
      CHECK(json(s) == want);
    }
  }
}

TEST_CASE("json_log: format of a full line") {
  LogFields f;
  f.trace_id = "t-1";
  f.session_id = "s-9";
  f.source = "A";
  f.target = "B";
  f.route = "peer-b";
  f.hop = "B";
  f.code = Code::kForbidden;
  f.duration_ms = 12.5;
  f.extra = {{"uri", "/x"}, {"remote", "10.0.0.1:5000"}};
  const std::string line = JsonLog::format(LogLevel::kWarn, "request done", f, fixed_time());
  CHECK(line ==
        R"({"ts":"2024-05-01T12:34:56.789Z","level":"warn","msg":"request done","trace_id":"t-1",)"
        R"("session_id":"s-9","source":"A","target":"B","route":"peer-b","hop":"B",)"
        R"("code":"E0000000403","duration_ms":12.500,"uri":"/x","remote":"10.0.0.1:5000"})"
        "\n");
  auto obj = FlatJson::parse(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(obj);
  CHECK(obj->at("code") == "E0000000403");
  CHECK(obj->at("remote") == "10.0.0.1:5000");
}

TEST_CASE("json_log: minimal line omits empty fields") {
  const std::string line = JsonLog::format(LogLevel::kInfo, "started", {}, fixed_time());
  CHECK(line == R"({"ts":"2024-05-01T12:34:56.789Z","level":"info","msg":"started"})"
                "\n");
}

TEST_CASE("json_log: hostile input still yields one valid JSON line") {
  LogFields f;
  f.trace_id = std::string("\"},{\"x\":\"\n\x01", 12);
  f.session_id = "\xFF\xFE";
  f.duration_ms = std::numeric_limits<double>::quiet_NaN();
  f.extra = {{"k\"ey\n", "v\\al\x1b"}, {"msg", "shadow"}, {"level", "debug"}};
  const std::string line = JsonLog::format(LogLevel::kError, "bad\r\nmsg\xC3", f, fixed_time());
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // exactly one line
  auto obj = FlatJson::parse(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(obj);
  CHECK(obj->at("msg") == "bad\r\nmsg\xEF\xBF\xBD");
  CHECK(obj->at("trace_id") == std::string("\"},{\"x\":\"\n\x01", 12));
  CHECK(obj->at("session_id") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(obj->at("duration_ms") == "null");
  CHECK(obj->at("k\"ey\n") == "v\\al\x1b");
  CHECK(obj->at("extra.msg") == "shadow");  // extras never shadow standard fields
  CHECK(obj->at("extra.level") == "debug");
  CHECK(obj->at("level") == "error");
}

TEST_CASE("json_log: secret-looking extra fields are redacted") {
  LogFields f;
  f.extra = {{"x-ptp-token", "abc.def"}, {"Authorization", "Bearer z"}, {"peer", "B"}};
  const std::string line = JsonLog::format(LogLevel::kInfo, "m", f, fixed_time());
  CHECK(line.find("abc.def") == std::string::npos);
  CHECK(line.find("Bearer z") == std::string::npos);
  CHECK(line.find(R"("x-ptp-token":"[redacted]")") != std::string::npos);
  CHECK(line.find(R"("peer":"B")") != std::string::npos);
}

TEST_CASE("json_log: levels filter and parse") {
  CHECK(JsonLog::parse_level("debug") == LogLevel::kDebug);
  CHECK(JsonLog::parse_level("INFO") == LogLevel::kInfo);
  CHECK(JsonLog::parse_level("warning") == LogLevel::kWarn);
  CHECK(JsonLog::parse_level("error") == LogLevel::kError);
  CHECK_FALSE(JsonLog::parse_level("verbose"));

  std::vector<std::string> lines;
  JsonLog log([&](std::string_view l) { lines.emplace_back(l); }, LogLevel::kWarn);
  CHECK_FALSE(log.enabled(LogLevel::kInfo));
  CHECK(log.enabled(LogLevel::kError));
  log.info("dropped");
  log.warn("kept");
  log.set_level(LogLevel::kDebug);
  log.debug("now kept", LogFields{.trace_id = "t"});
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find(R"("level":"warn","msg":"kept")") != std::string::npos);
  CHECK(lines[1].find(R"("trace_id":"t")") != std::string::npos);
}

TEST_CASE("json_log: file output appends whole lines from many threads") {
  char tmpl[] = "/tmp/ptp-json-log-XXXXXX";
  const int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string path = tmpl;
  {
    std::ofstream(path) << "previous line\n";
    JsonLog log(path, LogLevel::kInfo);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 200; ++i) {
          log.info("msg", LogFields{.route = "r" + std::to_string(t),
                                    .extra = {{"i", std::to_string(i)}}});
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  CHECK(line == "previous line");  // appended, not truncated
  int count = 0;
  while (std::getline(in, line)) {
    ++count;
    REQUIRE(FlatJson::parse(line));
  }
  CHECK(count == 800);
  std::remove(path.c_str());
  std::string error;
  try {
    JsonLog bad("/nonexistent-dir/x.log", LogLevel::kInfo);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  CHECK(error.find("/nonexistent-dir/x.log") != std::string::npos);
}

TEST_CASE("json_log: set_output switches files and reopen follows rotation") {
  char tmpl[] = "/tmp/ptp-json-log-XXXXXX";
  const int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string first = tmpl;
  const std::string second = first + ".2";
  const std::string rotated = first + ".old";
  auto read_all = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };

  JsonLog log(LogLevel::kInfo);
  std::string error;
  REQUIRE(log.set_output(first, error));
  log.info("one");
  REQUIRE(std::rename(first.c_str(), rotated.c_str()) == 0);
  REQUIRE(log.reopen(error));  // recreates `first`
  log.info("two");
  REQUIRE(log.set_output(second, error));
  log.info("three");
  CHECK_FALSE(log.set_output("/nonexistent-dir/y.log", error));
  CHECK(error.find("/nonexistent-dir/y.log") != std::string::npos);
  log.info("four");  // still goes to `second`

  CHECK(read_all(rotated).find(R"("msg":"one")") != std::string::npos);
  const std::string a = read_all(first);
  CHECK(a.find(R"("msg":"two")") != std::string::npos);
  CHECK(a.find(R"("msg":"one")") == std::string::npos);
  const std::string b = read_all(second);
  CHECK(b.find(R"("msg":"three")") != std::string::npos);
  CHECK(b.find(R"("msg":"four")") != std::string::npos);
  for (const auto& p : {first, second, rotated}) std::remove(p.c_str());
}

TEST_CASE("LogThrottle: one line per interval, with the count left out") {
  using namespace std::chrono_literals;
  ptp::LogThrottle t(1s);
  auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  uint64_t suppressed = 99;
  CHECK(t.allow(suppressed, t0));
  CHECK(suppressed == 0);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(t.allow(suppressed, t0 + 999ms));
  CHECK(t.allow(suppressed, t0 + 1s));
  CHECK(suppressed == 1000);
  CHECK_FALSE(t.allow(suppressed, t0 + 1500ms));
  CHECK(t.allow(suppressed, t0 + 5s));
  CHECK(suppressed == 1);
}

TEST_CASE("LogThrottle: a burst at once, then lines at the rate, with the count left out") {
  using namespace std::chrono_literals;
  ptp::LogThrottle b(1s, 3);
  const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    CHECK(b.allow(suppressed, t0));
    CHECK(suppressed == 0);
  }
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(b.allow(suppressed, t0 + 500ms));
  CHECK(b.allow(suppressed, t0 + 1s));
  CHECK(suppressed == 1000);
  CHECK_FALSE(b.allow(suppressed, t0 + 1500ms));
  // A long pause refills the burst, no more.
  CHECK(b.allow(suppressed, t0 + 100s));
  CHECK(suppressed == 1);
  for (int i = 0; i < 2; ++i) CHECK(b.allow(suppressed, t0 + 100s));
  CHECK_FALSE(b.allow(suppressed, t0 + 100s));
  // A clock read out of order refills nothing.
  CHECK_FALSE(b.allow(suppressed, t0 + 50s));
}

TEST_CASE("clip_log_value: short values as they are, long ones cut and their size said") {
  CHECK(clip_log_value("trace-1", 8) == "trace-1");
  CHECK(clip_log_value("12345678", 8) == "12345678");
  CHECK(clip_log_value("123456789", 8) == "12345678...(9 bytes)");
  CHECK(clip_log_value(std::string(60000, '\xff'), 4) == "\xff\xff\xff\xff...(60000 bytes)");
  // Not inside a UTF-8 sequence: "é" is two bytes.
  CHECK(clip_log_value("abc\xc3\xa9xyz", 4) == "abc...(8 bytes)");
  CHECK(clip_log_value("abc\xc3\xa9xyz", 5) == "abc\xc3\xa9...(8 bytes)");
}
