#include "common/version.h"

#include <cstring>
#include <iostream>

#include "ptp_version_info.h"

namespace ptp {

std::string_view version() { return PTP_VERSION; }

std::string_view git_commit() { return PTP_GIT_COMMIT; }

std::string version_line(std::string_view program) {
  return std::string(program) + " " + std::string(version()) + " (" + std::string(git_commit()) +
         ")";
}

bool print_version_if_asked(int argc, char** argv, std::string_view program) {
  if (argc < 2 || std::strcmp(argv[1], "--version") != 0) return false;
  std::cout << version_line(program) << "\n";
  return true;
}

}  // namespace ptp
