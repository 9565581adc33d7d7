// The project's source tree, for tests that read shipped files (conf/...): from
// PTP_SOURCE_DIR (set by ctest), else relative to this header (a plain run from build/).
#pragma once

#include <cstdlib>
#include <filesystem>

namespace ptp::testing {

inline std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("PTP_SOURCE_DIR"); dir && *dir) return dir;
  return std::filesystem::path(__FILE__).parent_path() / "../..";
}

}  // namespace ptp::testing
