// The permits of one node (docs/authorization.md "Permits"): those it issued as a holder
// (with their use counts and revocations) and those it holds as a grantee. Kept in one
// append-only file, <dir>/permits.log (JSON lines, mode 0600): every change is one line,
// written and fdatasync'ed before the call returns, so a use counted here survives a crash
// or a power cut; a line that cannot be written whole (a full disk) is cut back and the
// change refused (a permit use then is refused too: never granted uncounted). At open the file is
// replayed (a torn last line is dropped) and rewritten compactly. Not thread-safe: the permit
// service calls it from its own thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "trust/permit.h"

namespace ptp {

struct IssuedPermit {
  Permit permit;
  int64_t used = 0;
  bool revoked = false;
};

class PermitStore {
 public:
  static constexpr size_t kMaxIssued = 65536;
  static constexpr size_t kMaxHeld = 4096;

  // Opens (creating `dir`, mode 0700, and the file) and replays; nullptr with `error`.
  static std::unique_ptr<PermitStore> open(const std::string& dir, std::string& error);
  ~PermitStore();
  PermitStore(const PermitStore&) = delete;
  PermitStore& operator=(const PermitStore&) = delete;

  const std::map<std::string, IssuedPermit>& issued() const { return issued_; }
  const std::map<std::string, Permit>& held() const { return held_; }

  // Each writes its line and syncs it first; false (state unchanged) with `error`.
  bool add_issued(const Permit& p, std::string& error);
  bool count_use(const std::string& id, std::string& error);  // used + 1
  bool revoke(const std::string& id, std::string& error);
  bool add_held(const Permit& p, std::string& error);
  bool remove_held(const std::string& id, std::string& error);

  const std::string& path() const { return path_; }

 private:
  PermitStore(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Applies one line to the maps; false when it is no valid record.
  bool apply(std::string_view line);
  bool append(const std::string& line, std::string& error);
  std::string snapshot() const;

  std::string path_;
  int fd_ = -1;
  bool broken_ = false;  // a failed write could not be cut back: no further writes
  std::map<std::string, IssuedPermit> issued_;
  std::map<std::string, Permit> held_;
};

}  // namespace ptp
