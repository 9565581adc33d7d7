// Structured log: one JSON object per line, to stderr or appended to a file
// (docs/observability.md shows the format). One instance, owned by main and passed by
// reference. Thread-safe: lines are formatted outside the lock and written whole.
// Never put tokens in a log line; extra fields whose key looks secret are redacted.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codecs/status.h"

namespace ptp {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn", "error".
std::string_view level_name(LogLevel level);

// Empty strings and unset optionals are left out of the line. The `{}` initializers let
// callers write LogFields{.trace_id = t, .code = c} under -Wextra.
struct LogFields {
  std::string trace_id{};
  std::string session_id{};
  std::string source{};  // source node id
  std::string target{};  // target node id
  std::string route{};   // peer / sink the request was routed to
  std::string hop{};     // node id where an error arose
  std::optional<Code> code{};
  std::optional<double> duration_ms{};
  std::vector<std::pair<std::string, std::string>> extra{};  // written as strings
};

// Appends `s` as a quoted JSON string: quotes, backslashes and control characters
// escaped (\n, \t, ..., else \u00XX), invalid UTF-8 bytes replaced by \ufffd, so the
// output is always valid JSON whatever bytes came in.
void append_json_string(std::string& out, std::string_view s);

// `s` cut to its first `max` bytes (not inside a UTF-8 sequence), followed by
// "...(<size> bytes)" when it was longer: for values a stranger chose, so that a log line
// stays short whatever it sent.
std::string clip_log_value(std::string_view s, size_t max);

class JsonLog {
 public:
  using Sink = std::function<void(std::string_view line)>;  // line ends with '\n'

  // Writes to stderr.
  explicit JsonLog(LogLevel level = LogLevel::kInfo);
  // Appends to `path` (created 0640 if missing); throws std::runtime_error naming the
  // file when it cannot be opened.
  JsonLog(const std::string& path, LogLevel level);
  // Hands every line to `sink` (tests, embedding). The sink is called under the lock.
  JsonLog(Sink sink, LogLevel level);
  ~JsonLog();
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  bool enabled(LogLevel level) const {
    return static_cast<int>(level) >= level_.load(std::memory_order_relaxed);
  }
  void set_level(LogLevel level) { level_.store(static_cast<int>(level)); }
  LogLevel level() const { return static_cast<LogLevel>(level_.load()); }

  void log(LogLevel level, std::string_view msg, const LogFields& f = {});
  void debug(std::string_view msg, const LogFields& f = {}) { log(LogLevel::kDebug, msg, f); }
  void info(std::string_view msg, const LogFields& f = {}) { log(LogLevel::kInfo, msg, f); }
  void warn(std::string_view msg, const LogFields& f = {}) { log(LogLevel::kWarn, msg, f); }
  void error(std::string_view msg, const LogFields& f = {}) { log(LogLevel::kError, msg, f); }

  // Switches output to appending to `path`, or to stderr when `path` is empty (a reload
  // that changed log.file). On failure keeps the current output and returns false with
  // `error` naming the file.
  bool set_output(const std::string& path, std::string& error);
  // Reopens the current log file (after rotation, e.g. on SIGHUP); true for stderr/sinks.
  bool reopen(std::string& error);

  // "debug", "info", "warn" (or "warning"), "error", case-insensitive.
  static std::optional<LogLevel> parse_level(std::string_view s);

  // The line log() writes (with trailing '\n'); exposed for tests.
  static std::string format(LogLevel level, std::string_view msg, const LogFields& f,
                            std::chrono::system_clock::time_point ts);

 private:
  void write_line(std::string_view line);

  std::atomic<int> level_;
  std::mutex mu_;
  int fd_ = 2;
  bool owns_fd_ = false;
  std::string path_;
  Sink sink_;
};

// Rate-limits one kind of log line (e.g. "accept failed" while descriptors are exhausted,
// or the refusals of strangers' requests): `burst` lines at once, then one per `interval`
// (burst 1: at most one line per interval). allow() says whether to write now and how many
// lines were left out since the last one written (put that count in the line). One thread.
// A generic cell rate algorithm on integer time: `due_` is when the next line would be
// on time; a line is allowed while it is at most burst - 1 intervals early.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration interval = std::chrono::seconds(1), unsigned burst = 1)
      : interval_(interval), tolerance_(interval * (burst > 0 ? burst - 1 : 0)) {}
  bool allow(uint64_t& suppressed, Clock::time_point now = Clock::now()) {
    const Clock::time_point due = std::max(due_, now);
    if (due - now > tolerance_) {
      ++suppressed_;
      return false;
    }
    due_ = due + interval_;
    suppressed = std::exchange(suppressed_, 0);
    return true;
  }

 private:
  Clock::duration interval_;
  Clock::duration tolerance_;
  Clock::time_point due_{};
  uint64_t suppressed_ = 0;
};

}  // namespace ptp
