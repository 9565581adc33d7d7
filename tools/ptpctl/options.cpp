#include "tools/ptpctl/options.h"

#include <algorithm>

namespace ptp::ptpctl {
namespace {

const std::vector<std::string> kGlobal = {"admin", "credential-file", "config", "ca", "cert",
                                          "key"};

}  // namespace

std::optional<std::string> Options::get(const std::string& key) const {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Options::all(const std::string& key) const {
  std::vector<std::string> out;
  auto [b, e] = values.equal_range(key);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::optional<std::string> Options::unknown(const std::vector<std::string>& allowed) const {
  for (const auto& [k, v] : values) {
    if (std::find(kGlobal.begin(), kGlobal.end(), k) != kGlobal.end()) continue;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) return k;
  }
  return std::nullopt;
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool only_words = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (only_words || a.size() < 2 || a[0] != '-') {
      o.words.push_back(std::move(a));
      continue;
    }
    if (a == "--") {
      only_words = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--yes") {
      o.yes = true;
    } else if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a.starts_with("--")) {
      std::string key = a.substr(2), value;
      if (auto eq = key.find('='); eq != std::string::npos) {
        value = key.substr(eq + 1);
        key.resize(eq);
      } else {
        if (i + 1 >= argc) throw UsageError("option --" + key + " needs a value");
        value = argv[++i];
      }
      o.values.emplace(std::move(key), std::move(value));
    } else {
      throw UsageError("unknown option " + a);
    }
  }
  return o;
}

}  // namespace ptp::ptpctl
