#include "trust/secure_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ptp {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error close() may return (a delayed write error).
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

std::string sys_error(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Creates `path` exclusively and fills it; on failure nothing is left behind.
bool create_and_fill(const std::string& path, std::string_view content, mode_t mode,
                     std::string& error) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) {
    error = errno == EEXIST ? "refusing to overwrite the existing file " + path
                            : sys_error("cannot create", path);
    return false;
  }
  // The mode given to open() is reduced by the umask; a key file must be exactly `mode`.
  bool ok = ::fchmod(fd.get(), mode) == 0;
  if (!ok) error = sys_error("cannot set the mode of", path);
  if (ok && !write_all(fd.get(), content)) {
    error = sys_error("cannot write", path);
    ok = false;
  }
  if (ok && ::fsync(fd.get()) != 0) {
    error = sys_error("cannot sync", path);
    ok = false;
  }
  if (!fd.close() && ok) {
    error = sys_error("cannot close", path);
    ok = false;
  }
  if (!ok) ::unlink(path.c_str());
  return ok;
}

bool sync_directory_of(const std::string& path, std::string& error) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    error = sys_error("cannot sync the directory", dir);
    return false;
  }
  return true;
}

}  // namespace

bool write_new_file(const std::string& path, std::string_view content, mode_t mode,
                    std::string& error) {
  return create_and_fill(path, content, mode, error) && sync_directory_of(path, error);
}

bool replace_file(const std::string& path, std::string_view content, mode_t mode,
                  std::string& error) {
  return replace_files({{path, content, mode}}, error);
}

bool replace_files(const std::vector<FileContent>& files, std::string& error) {
  auto remove_temps = [&] {
    for (const FileContent& f : files) ::unlink((f.path + ".tmp").c_str());
  };
  // Temporaries left by a crash in the middle of an earlier replacement.
  remove_temps();
  for (const FileContent& f : files) {
    if (!create_and_fill(f.path + ".tmp", f.content, f.mode, error)) {
      remove_temps();
      return false;
    }
  }
  for (const FileContent& f : files) {
    const std::string tmp = f.path + ".tmp";
    if (::rename(tmp.c_str(), f.path.c_str()) != 0) {
      error = sys_error("cannot rename " + tmp + " to", f.path);
      remove_temps();
      return false;
    }
  }
  for (const FileContent& f : files) {
    if (!sync_directory_of(f.path, error)) return false;
  }
  return true;
}

std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes,
                                           std::string& error) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    error = sys_error("cannot open", path);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = sys_error("cannot read", path);
      return std::nullopt;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      error = path + " is larger than " + std::to_string(max_bytes) + " bytes";
      return std::nullopt;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace ptp
