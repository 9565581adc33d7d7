#include "tools/ptpctl/output.h"

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

}  // namespace ptp::ptpctl
