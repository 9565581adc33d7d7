#include "common/human_bytes.h"

#include <cmath>
#include <cstdio>

namespace ptp {

std::string human_bytes(uint64_t n) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f %s", u == 0 || v == std::floor(v) ? 0 : 1, v, kUnits[u]);
  return buf;
}

}  // namespace ptp
