// ptpctl's command line (docs/ptpctl.md): global options (--admin, --credential-file,
// --config, --json) and each command's own --key value options, in any order around the
// positional words.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptp::ptpctl {

struct Options {
  std::vector<std::string> words;                  // subcommand words and arguments
  std::multimap<std::string, std::string> values;  // --key value (repeatable)
  bool json = false;                               // --json
  bool help = false;                               // --help / -h
  bool yes = false;                                // --yes (confirms without asking)

  std::optional<std::string> get(const std::string& key) const;
  std::vector<std::string> all(const std::string& key) const;
  // Keys given that are not in `allowed` (nor global): a usage error names the first.
  std::optional<std::string> unknown(const std::vector<std::string>& allowed) const;
};

// Throws UsageError on a malformed line (an option without its value).
Options parse_options(int argc, char** argv);

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Exit statuses (docs/ptpctl.md).
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;       // the gateway (or a local operation) refused or failed
constexpr int kExitUsage = 2;        // bad command line
constexpr int kExitUnreachable = 3;  // the admin port could not be reached

}  // namespace ptp::ptpctl
