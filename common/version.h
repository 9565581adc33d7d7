// What every program prints for --version (docs/operations.md): "<program> <version>
// (<git commit>)", the version of the CMake project and the commit the build was
// configured from ("unknown" outside a git checkout).
#pragma once

#include <string>
#include <string_view>

namespace ptp {

std::string_view version();     // "0.1.0"
std::string_view git_commit();  // 12 hex digits, or "unknown"
std::string version_line(std::string_view program);

// True when the first argument is --version: the line is printed on stdout, and the
// program exits with status 0 without looking at anything else.
bool print_version_if_asked(int argc, char** argv, std::string_view program);

}  // namespace ptp
