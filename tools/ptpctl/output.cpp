#include "tools/ptpctl/output.h"

#include <chrono>
#include <ctime>
#include <iostream>

namespace ptp::ptpctl {

std::string table(const std::vector<Column>& cols,
                  const std::vector<std::vector<std::string>>& rows) {
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      if (c.size() > cols[i].width) c = c.substr(0, cols[i].width - 1) + "~";
      const bool last = i + 1 == cols.size();
      if (!last) c.resize(cols[i].width, ' ');
      out += c;
      if (!last) out += ' ';
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  std::string out = line(titles);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string utc_time(long long unix_seconds) {
  if (unix_seconds <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string age_text(long long unix_ms) {
  if (unix_ms <= 0) return "-";
  const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  long long s = now > unix_ms ? (now - unix_ms) / 1000 : 0;
  const long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  s %= 60;
  auto two = [](long long a, const char* ua, long long b, const char* ub) {
    return std::to_string(a) + ua + (b ? " " + std::to_string(b) + ub : std::string());
  };
  if (d) return two(d, "d", h, "h");
  if (h) return two(h, "h", m, "m");
  if (m) return two(m, "m", s, "s");
  return std::to_string(s) + "s";
}

int report_failure(const AdminResponse& r) {
  std::cerr << "ptpctl: " << error_text(r) << "\n";
  return kExitFailed;
}

int pass_through(const AdminResponse& r) {
  std::string body = r.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  (r.ok() ? std::cout : std::cerr) << body << "\n";
  return r.ok() ? kExitOk : kExitFailed;
}

std::string address_in_use(const nlohmann::json& peer) {
  if (!peer.is_object() || !peer.contains("address") || !peer["address"].is_string()) return "-";
  std::string a = peer["address"].get<std::string>();
  if (a.empty()) return "-";
  const auto all = peer.find("addresses");
  if (all == peer.end() || !all->is_array() || all->size() < 2) return a;
  for (size_t i = 0; i < all->size(); ++i)
    if ((*all)[i].is_string() && (*all)[i].get<std::string>() == a)
      return a + " (" + std::to_string(i + 1) + "/" + std::to_string(all->size()) + ")";
  return a;
}

}  // namespace ptp::ptpctl
