#include "gateway/observability/json_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "codecs/utf8.h"

namespace ptp {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Keys whose value must never reach a log file.
bool is_secret_key(std::string_view key) {
  std::string lower(key);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view word : {"token", "authorization", "password", "secret", "cookie"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

bool is_reserved_key(std::string_view key) {
  for (std::string_view k : {"ts", "level", "msg", "trace_id", "session_id", "source", "target",
                             "route", "hop", "code", "duration_ms"}) {
    if (key == k) return true;
  }
  return false;
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  const auto ms_total = duration_cast<milliseconds>(ts.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms_total / 1000);
  auto ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {  // before 1970: floor, not truncate
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // ample for any int fields, which keeps -Wformat-truncation quiet
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  out += buf;
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out += ',';
  append_json_string(out, key);
  out += ':';
  append_json_string(out, value);
}

// How many leading bytes of `s` are plain (printable ASCII other than '"' and '\\'), checked
// 8 bytes at a time: a whole word is plain when none of its bytes is below 0x20, at or above
// 0x7F, '"' or '\\' (the usual bit tricks; the caller finishes the last bytes one by one).
size_t plain_run(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  size_t n = 0;
  for (; n + 8 <= s.size(); n += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + n, 8);
    const uint64_t below_space = (w - 0x20 * kOnes) & ~w & kHigh;
    const uint64_t del_or_high = (w + kOnes) | w;  // 0x7F + 1 or any byte >= 0x80: high bit
    if (below_space | (del_or_high & kHigh) | has_zero(w ^ ('"' * kOnes)) |
        has_zero(w ^ ('\\' * kOnes)))
      break;
  }
  return n;
}

void append_optional_field(std::string& out, std::string_view key, std::string_view value) {
  if (!value.empty()) append_field(out, key, value);
}

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string clip_log_value(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  // Back off over continuation bytes (at most three) to the start of a sequence.
  for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80; ++i)
    --cut;
  return std::string(s.substr(0, cut)) + "...(" + std::to_string(s.size()) + " bytes)";
}

void append_json_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Printable ASCII other than '"' and '\\' is copied as it is, a run at a time (hex
    // digests, ids, base64: most of what the logs write), not one character at a time.
    size_t plain = i + plain_run(s.substr(i));
    while (plain < s.size()) {
      const auto p = static_cast<unsigned char>(s[plain]);
      if (p < 0x20 || p >= 0x7F || p == '"' || p == '\\') break;
      ++plain;
    }
    if (plain > i) {
      out.append(s.data() + i, plain - i);
      i = plain;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

JsonLog::JsonLog(LogLevel level) : level_(static_cast<int>(level)) {}

JsonLog::JsonLog(const std::string& path, LogLevel level)
    : level_(static_cast<int>(level)), path_(path) {
  fd_ = open_append(path);
  if (fd_ < 0) {
    throw std::runtime_error("cannot open log file " + path + ": " + std::strerror(errno));
  }
  owns_fd_ = true;
}

JsonLog::JsonLog(Sink sink, LogLevel level)
    : level_(static_cast<int>(level)), fd_(-1), sink_(std::move(sink)) {}

JsonLog::~JsonLog() {
  if (owns_fd_) ::close(fd_);
}

std::optional<LogLevel> JsonLog::parse_level(std::string_view s) {
  std::string lower(s);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string JsonLog::format(LogLevel level, std::string_view msg, const LogFields& f,
                            std::chrono::system_clock::time_point ts) {
  std::string out;
  out.reserve(128 + msg.size());
  out += "{\"ts\":\"";
  append_timestamp(out, ts);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += '"';
  append_field(out, "msg", msg);
  append_optional_field(out, "trace_id", f.trace_id);
  append_optional_field(out, "session_id", f.session_id);
  append_optional_field(out, "source", f.source);
  append_optional_field(out, "target", f.target);
  append_optional_field(out, "route", f.route);
  append_optional_field(out, "hop", f.hop);
  if (f.code) append_field(out, "code", code_string(*f.code));
  if (f.duration_ms) {
    out += ",\"duration_ms\":";
    if (std::isfinite(*f.duration_ms)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", *f.duration_ms);
      out += buf;
    } else {
      out += "null";  // JSON has no NaN / Infinity
    }
  }
  for (const auto& [key, value] : f.extra) {
    // An extra may not shadow a standard field: duplicate keys are ambiguous in JSON.
    const std::string k = is_reserved_key(key) ? "extra." + key : key;
    append_field(out, k, is_secret_key(key) ? std::string_view("[redacted]") : value);
  }
  out += "}\n";
  return out;
}

void JsonLog::log(LogLevel level, std::string_view msg, const LogFields& f) {
  if (!enabled(level)) return;
  write_line(format(level, msg, f, std::chrono::system_clock::now()));
}

void JsonLog::write_line(std::string_view line) {
  std::lock_guard lock(mu_);
  if (sink_) {
    sink_(line);
    return;
  }
  // Nothing sensible to do when the log itself fails; drop the rest of the line.
  while (!line.empty()) {
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    line.remove_prefix(static_cast<size_t>(n));
  }
}

bool JsonLog::set_output(const std::string& path, std::string& error) {
  int fd = 2;
  if (!path.empty()) {
    fd = open_append(path);
    if (fd < 0) {
      error = "cannot open log file " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  std::lock_guard lock(mu_);
  if (owns_fd_) ::close(fd_);
  fd_ = fd;
  owns_fd_ = !path.empty();
  path_ = path;
  sink_ = nullptr;
  return true;
}

bool JsonLog::reopen(std::string& error) {
  std::string path;
  {
    std::lock_guard lock(mu_);
    if (!owns_fd_) return true;
    path = path_;
  }
  return set_output(path, error);
}

}  // namespace ptp
