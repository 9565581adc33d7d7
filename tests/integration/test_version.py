"""--version on every program the build makes (docs/operations.md): each executable in the
bin directory prints "<name> <version> (<commit>)" and exits 0, the version being the CMake
project's and the commit the source checkout's HEAD; a tree configured outside a git
checkout says "unknown"."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from ptp_harness import BIN, SRC


def project_version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        return re.search(r"project\(\S+ VERSION (\S+)", f.read()).group(1)


def head_commit():
    out = subprocess.run(["git", "-C", SRC, "rev-parse", "--short=12", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


class Version(unittest.TestCase):
    def test_every_program_prints_name_version_and_commit(self):
        programs = sorted(p for p in os.listdir(BIN)
                          if os.access(os.path.join(BIN, p), os.X_OK) and not p.endswith(".so"))
        for name in ("ptp-gateway", "ptpctl", "ptp-rc", "ptp-echo-service"):
            self.assertIn(name, programs)
        want_version, want_commit = project_version(), head_commit()
        for name in programs:
            with self.subTest(program=name):
                out = subprocess.run([os.path.join(BIN, name), "--version"], capture_output=True,
                                     text=True, timeout=30)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(out.stdout, f"{name} {want_version} ({want_commit})\n")

    def test_outside_a_git_checkout_the_commit_is_unknown(self):
        if shutil.which("cmake") is None:
            self.skipTest("no cmake")
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            # The sources without .git and build trees: configured (not built) elsewhere.
            shutil.copytree(SRC, src, ignore=shutil.ignore_patterns(
                ".git", "build", "build-*", "__pycache__", "data"))
            build = os.path.join(tmp, "build")
            out = subprocess.run(["cmake", "-S", src, "-B", build, "-G", "Ninja"],
                                 capture_output=True, text=True, timeout=300,
                                 env={**os.environ, "GIT_CEILING_DIRECTORIES": tmp})
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            with open(os.path.join(build, "ptp_version_info.h")) as f:
                text = f.read()
            self.assertIn('#define PTP_GIT_COMMIT "unknown"', text)
            self.assertIn(f'#define PTP_VERSION "{project_version()}"', text)


if __name__ == "__main__":
    unittest.main()
