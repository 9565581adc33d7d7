#include "gateway/permits/permit_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "trust/secure_file.h"

namespace ptp {
namespace {

constexpr size_t kMaxFileBytes = size_t{1} << 30;

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string line(std::string_view op, std::string_view key, std::string_view value) {
  nlohmann::ordered_json j;
  j["op"] = op;
  j[std::string(key)] = value;
  return j.dump() + "\n";
}

std::string use_line(const std::string& id, int64_t count) {
  nlohmann::ordered_json j;
  j["op"] = "use";
  j["id"] = id;
  j["count"] = count;
  return j.dump() + "\n";
}

}  // namespace

std::unique_ptr<PermitStore> PermitStore::open(const std::string& dir, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create the permit store directory " + dir + ": " + ec.message();
    return nullptr;
  }
  ::chmod(dir.c_str(), 0700);
  const std::string path = dir + "/permits.log";
  std::unique_ptr<PermitStore> s(new PermitStore(path, -1));
  if (std::filesystem::exists(path, ec)) {
    auto text = read_small_file(path, kMaxFileBytes, error);
    if (!text) return nullptr;
    std::string_view rest = *text;
    size_t lineno = 0;
    while (!rest.empty()) {
      ++lineno;
      const size_t nl = rest.find('\n');
      const bool last = nl == std::string_view::npos;
      std::string_view l = rest.substr(0, nl);
      rest = last ? std::string_view() : rest.substr(nl + 1);
      if (l.empty()) continue;
      // A torn last line (a crash while it was written) was never acknowledged: dropped.
      if (!s->apply(l) && !last) {
        error = path + ":" + std::to_string(lineno) + ": not a permit store record";
        return nullptr;
      }
    }
  }
  // Compacted: one line per permit, its count and its revocation.
  std::filesystem::remove(path + ".tmp", ec);
  if (!replace_file(path, s->snapshot(), 0600, error)) return nullptr;
  s->fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (s->fd_ < 0) {
    error = sys_error("cannot open", path);
    return nullptr;
  }
  return s;
}

PermitStore::~PermitStore() {
  if (fd_ >= 0) ::close(fd_);
}

bool PermitStore::apply(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string op = str("op");
  std::string error;
  if (op == "issue" || op == "hold") {
    auto p = parse_permit(str("permit"), error);
    if (!p) return false;
    const std::string id = p->payload.id;
    if (op == "issue")
      issued_[id].permit = std::move(*p);
    else
      held_[id] = std::move(*p);
    return true;
  }
  const std::string id = str("id");
  if (op == "use") {
    auto it = issued_.find(id);
    auto c = j.find("count");
    if (it == issued_.end() || c == j.end() || !c->is_number_integer()) return false;
    it->second.used = std::max(it->second.used, c->get<int64_t>());
    return true;
  }
  if (op == "revoke") {
    auto it = issued_.find(id);
    if (it == issued_.end()) return false;
    it->second.revoked = true;
    return true;
  }
  if (op == "drop") {
    held_.erase(id);
    return true;
  }
  return false;
}

std::string PermitStore::snapshot() const {
  std::string out;
  for (const auto& [id, p] : issued_) {
    out += line("issue", "permit", p.permit.text);
    if (p.used > 0) out += use_line(id, p.used);
    if (p.revoked) out += line("revoke", "id", id);
  }
  for (const auto& [id, p] : held_) out += line("hold", "permit", p.text);
  return out;
}

bool PermitStore::append(const std::string& l, std::string& error) {
  if (broken_) {
    error = "the permit store " + path_ +
            " could not take back a failed write; restart the gateway once the disk has room";
    return false;
  }
  // Where the line starts: a write or sync that fails part-way (a full disk) is cut back to
  // here, so no torn line stays in the middle of the file (the open would refuse it) and
  // the file says what the maps say.
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  auto failed = [&](const char* what) {
    error = sys_error(what, path_);
    if (start < 0 || ::ftruncate(fd_, start) != 0) broken_ = true;
    return false;
  };
  size_t off = 0;
  while (off < l.size()) {
    ssize_t n = ::write(fd_, l.data() + off, l.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed("cannot write");
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return failed("cannot sync");
  return true;
}

bool PermitStore::add_issued(const Permit& p, std::string& error) {
  if (issued_.size() >= kMaxIssued) {
    error = "the permit store holds " + std::to_string(kMaxIssued) + " issued permits already";
    return false;
  }
  if (!append(line("issue", "permit", p.text), error)) return false;
  issued_[p.payload.id].permit = p;
  return true;
}

bool PermitStore::count_use(const std::string& id, std::string& error) {
  auto it = issued_.find(id);
  if (it == issued_.end()) {
    error = "no issued permit " + id;
    return false;
  }
  if (!append(use_line(id, it->second.used + 1), error)) return false;
  ++it->second.used;
  return true;
}

bool PermitStore::revoke(const std::string& id, std::string& error) {
  auto it = issued_.find(id);
  if (it == issued_.end()) {
    error = "no issued permit " + id;
    return false;
  }
  if (!append(line("revoke", "id", id), error)) return false;
  it->second.revoked = true;
  return true;
}

bool PermitStore::add_held(const Permit& p, std::string& error) {
  if (held_.size() >= kMaxHeld && !held_.count(p.payload.id)) {
    error = "the permit store holds " + std::to_string(kMaxHeld) + " held permits already";
    return false;
  }
  if (!append(line("hold", "permit", p.text), error)) return false;
  held_[p.payload.id] = p;
  return true;
}

bool PermitStore::remove_held(const std::string& id, std::string& error) {
  if (!held_.count(id)) {
    error = "no held permit " + id;
    return false;
  }
  if (!append(line("drop", "id", id), error)) return false;
  held_.erase(id);
  return true;
}

}  // namespace ptp
