// The unit tests' main: doctest's, after --version (which doctest would answer with its own).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "common/version.h"

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-unit-tests")) return 0;
  doctest::Context context(argc, argv);
  return context.run();
}
