// Human output of ptpctl: fixed-width tables that fit 100 columns, errors on stderr.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/ptpctl/admin_client.h"

namespace ptp::ptpctl {

struct Column {
  std::string title;
  size_t width;  // a longer cell is cut and ends in "~"
};

// One line per row; columns separated by one space, the last one not padded.
std::string table(const std::vector<Column>& cols,
                  const std::vector<std::vector<std::string>>& rows);

// "2027-12-04 10:00 UTC" for a unix time; "-" for 0.
std::string utc_time(long long unix_seconds);

// How long ago a unix time in ms was, in the two largest units ("45s", "3m 20s", "2h 5m",
// "4d 1h"); "-" for 0.
std::string age_text(long long unix_ms);

// A peer's address as the admin routes give it ({"address","addresses"}): with several
// (failover), the one in use and its place, "10.0.0.2:9300 (2/2)"; "-" for none.
std::string address_in_use(const nlohmann::json& peer);

// Prints "ptpctl: <error_text>" to stderr and returns kExitFailed.
int report_failure(const AdminResponse& r);

// --json: the body as the gateway sent it (one line, newline added); exit status by the
// HTTP status.
int pass_through(const AdminResponse& r);

}  // namespace ptp::ptpctl
