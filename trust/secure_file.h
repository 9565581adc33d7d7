// Files of a node identity (docs/identity.md): created without ever overwriting what is
// there, replaced atomically, read with a size bound. Errors are a message naming the file
// and the system error; never the file's content.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptp {

// Creates `path` with O_CREAT|O_EXCL and `mode` (0600 for keys), writes `content`, fsyncs.
// Refuses when the file exists (a key is never overwritten). A partly written file is
// removed.
bool write_new_file(const std::string& path, std::string_view content, mode_t mode,
                    std::string& error);

// Replaces `path` (or creates it) with `content` atomically: a new temporary file
// "<path>.tmp" (O_EXCL, `mode`), fsync, rename over `path`, fsync of the directory. A reader
// sees the old or the new content, never a mix.
bool replace_file(const std::string& path, std::string_view content, mode_t mode,
                  std::string& error);

// Several files replaced together: every "<path>.tmp" is written and synced first, then
// they are renamed in order and the directory synced, so a crash leaves the old files or at
// most a short window between two renames (never a partly written file).
struct FileContent {
  std::string path;
  std::string_view content;
  mode_t mode;
};
bool replace_files(const std::vector<FileContent>& files, std::string& error);

// The whole file; nullopt with `error` when it cannot be read or exceeds `max_bytes`.
std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes,
                                           std::string& error);

}  // namespace ptp
