#include "gateway/peering/peer_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "codecs/json_depth.h"
#include "gateway/peering/json_fields.h"
#include "trust/secure_file.h"

namespace ptp {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kJoinGraceS = 86400;  // a pending join outlives its invitation by a day
constexpr uintmax_t kMaxFileBytes = 64ull << 20;

Json to_json(const PeerRecord& r) {
  return Json{{"node_id", r.node_id},
              {"inst_id", r.inst_id},
              {"name", r.name},
              {"inst_name", r.inst_name},
              {"address", r.address},
              {"root_pem", r.root_pem},
              {"root_fp", r.root_fp},
              {"state", std::string(peer_state_name(r.state))},
              {"created_at", r.created_at},
              {"expires_at", r.expires_at},
              {"auth", std::string(auth_mode_name(r.auth_mode))},
              {"origin", r.origin}};
}

Json to_json(const IssuedInvitation& i) {
  return Json{{"code", i.code},
              {"for", i.for_node},
              {"created_at", i.created_at},
              {"expire_at", i.expire_at},
              {"used", i.used}};
}

Json to_json(const PendingJoin& j) {
  return Json{{"inviter", j.inviter},    {"inst", j.inst}, {"address", j.address},
              {"root_fp", j.root_fp},    {"code", j.code}, {"created_at", j.created_at},
              {"expire_at", j.expire_at}};
}

bool parse_record(const Json& o, PeerRecord& r, std::string& why) {
  r.node_id = json_string_field(o, "node_id");
  if (r.node_id.empty()) return why = "a peer without node_id", false;
  r.inst_id = json_string_field(o, "inst_id");
  r.name = json_string_field(o, "name");
  r.inst_name = json_string_field(o, "inst_name");
  r.address = json_string_field(o, "address");
  r.root_pem = json_string_field(o, "root_pem");
  r.root_fp = json_string_field(o, "root_fp");
  if (!parse_peer_state(json_string_field(o, "state"), r.state))
    return why = "peer " + r.node_id + ": bad state", false;
  r.created_at = json_integer_field(o, "created_at");
  r.expires_at = json_integer_field(o, "expires_at");
  if (!parse_auth_mode(json_string_field(o, "auth"), r.auth_mode))
    r.auth_mode = AuthMode::kSignature;
  r.origin = json_string_field(o, "origin");
  return true;
}

Status not_found(const std::string& node_id) {
  return Status::Error(Code::kNotFound, "no dynamic peer " + node_id);
}

}  // namespace

std::string peer_store_json(const std::vector<PeerRecord>& records,
                            const std::vector<IssuedInvitation>& invitations,
                            const std::vector<PendingJoin>& joins) {
  Json doc{{"version", 1},
           {"peers", Json::array()},
           {"invitations", Json::array()},
           {"joins", Json::array()}};
  for (const auto& r : records) doc["peers"].push_back(to_json(r));
  for (const auto& i : invitations) doc["invitations"].push_back(to_json(i));
  for (const auto& j : joins) doc["joins"].push_back(to_json(j));
  return doc.dump(2) + "\n";
}

std::unique_ptr<PeerStore> PeerStore::open(std::string path, std::string& error) {
  std::unique_ptr<PeerStore> store(new PeerStore(path));
  std::error_code ec;
  if (!fs::exists(path, ec)) return store;
  auto size = fs::file_size(path, ec);
  if (ec || size > kMaxFileBytes) {
    error = "peer store " + path + ": cannot read it (or larger than 64 MiB)";
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    error = "peer store " + path + ": cannot read it";
    return nullptr;
  }
  if (!json_depth_within(text)) {
    error = "peer store " + path + ": nested too deeply";
    return nullptr;
  }
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    error = "peer store " + path + ": not a JSON object";
    return nullptr;
  }
  auto list = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_array() ? *it : Json::array();
  };
  std::string why;
  for (const auto& o : list("peers")) {
    PeerRecord r;
    if (!o.is_object() || !parse_record(o, r, why)) {
      error = "peer store " + path + ": " + (why.empty() ? "a peer is not an object" : why);
      return nullptr;
    }
    if (store->records_.size() < kMaxRecords) store->records_.push_back(std::move(r));
  }
  for (const auto& o : list("invitations")) {
    if (!o.is_object()) continue;
    IssuedInvitation i{json_string_field(o, "code"), json_string_field(o, "for"),
                       json_integer_field(o, "created_at"), json_integer_field(o, "expire_at"),
                       o.value("used", false)};
    if (!i.code.empty() && !i.for_node.empty() && store->invitations_.size() < kMaxInvitations)
      store->invitations_.push_back(std::move(i));
  }
  for (const auto& o : list("joins")) {
    if (!o.is_object()) continue;
    PendingJoin j{json_string_field(o, "inviter"),   json_string_field(o, "inst"),
                  json_string_field(o, "address"),   json_string_field(o, "root_fp"),
                  json_string_field(o, "code"),      json_integer_field(o, "created_at"),
                  json_integer_field(o, "expire_at")};
    if (!j.inviter.empty() && store->joins_.size() < kMaxJoins)
      store->joins_.push_back(std::move(j));
  }
  return store;
}

void PeerStore::set_on_change(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(fn);
}

std::vector<PeerRecord> PeerStore::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

std::optional<PeerRecord> PeerStore::find(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  for (const auto& r : records_)
    if (r.node_id == node_id) return r;
  return std::nullopt;
}

Status PeerStore::save_locked() const {
  std::error_code ec;
  fs::path p(path_);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  std::string error;
  if (!replace_file(path_, peer_store_json(records_, invitations_, joins_), 0600, error))
    return Status::Error(Code::kSystemError, "peer store: " + error);
  return Status::Ok();
}

// On failure the lock is still held, so the caller undoes its change in memory.
Status PeerStore::commit_locked(std::unique_lock<std::mutex>& lock) {
  Status st = save_locked();
  if (!st.ok()) return st;
  auto fn = on_change_;
  lock.unlock();
  if (fn) fn();
  return st;
}

void PeerStore::prune_locked(int64_t now) {
  std::erase_if(invitations_, [now](const IssuedInvitation& i) { return i.expire_at < now; });
  std::erase_if(joins_, [now](const PendingJoin& j) { return j.expire_at + kJoinGraceS < now; });
}

Status PeerStore::upsert_locked(PeerRecord r) {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const PeerRecord& x) { return x.node_id == r.node_id; });
  if (it != records_.end()) {
    *it = std::move(r);
    return Status::Ok();
  }
  if (records_.size() >= kMaxRecords)
    return Status::Error(Code::kBufferFull, "the dynamic peer table holds " +
                                                std::to_string(kMaxRecords) +
                                                " peers already; remove one first");
  records_.push_back(std::move(r));
  return Status::Ok();
}

Status PeerStore::put(PeerRecord r) {
  std::unique_lock lock(mu_);
  auto saved = records_;
  if (Status full = upsert_locked(std::move(r)); !full.ok()) return full;
  Status st = commit_locked(lock);
  if (!st.ok()) records_ = std::move(saved);
  return st;
}

Status PeerStore::remove(const std::string& node_id) {
  std::unique_lock lock(mu_);
  auto saved = records_;
  if (std::erase_if(records_, [&](const PeerRecord& r) { return r.node_id == node_id; }) == 0)
    return not_found(node_id);
  Status st = commit_locked(lock);
  if (!st.ok()) records_ = std::move(saved);
  return st;
}

Status PeerStore::set_state(const std::string& node_id, PeerState state) {
  std::unique_lock lock(mu_);
  for (auto& r : records_) {
    if (r.node_id != node_id) continue;
    const PeerState before = r.state;
    r.state = state;
    Status st = commit_locked(lock);
    if (!st.ok()) {
      for (auto& x : records_)
        if (x.node_id == node_id) x.state = before;
    }
    return st;
  }
  return not_found(node_id);
}

Status PeerStore::set_expiry(const std::string& node_id, int64_t expires_at) {
  std::unique_lock lock(mu_);
  for (auto& r : records_) {
    if (r.node_id != node_id) continue;
    const int64_t before = r.expires_at;
    r.expires_at = expires_at;
    Status st = commit_locked(lock);
    if (!st.ok()) {
      for (auto& x : records_)
        if (x.node_id == node_id) x.expires_at = before;
    }
    return st;
  }
  return not_found(node_id);
}

Status PeerStore::add_invitation(IssuedInvitation inv, int64_t now) {
  std::unique_lock lock(mu_);
  auto saved = invitations_;
  prune_locked(now);
  std::erase_if(invitations_,
                [&](const IssuedInvitation& i) { return i.for_node == inv.for_node && !i.used; });
  size_t open = static_cast<size_t>(std::count_if(
      invitations_.begin(), invitations_.end(), [](const IssuedInvitation& i) { return !i.used; }));
  if (open >= kMaxInvitations || invitations_.size() >= 4 * kMaxInvitations) {
    invitations_ = std::move(saved);
    return Status::Error(Code::kBufferFull, std::to_string(kMaxInvitations) +
                                                " invitations are open already; let some expire");
  }
  invitations_.push_back(std::move(inv));
  Status st = commit_locked(lock);
  if (!st.ok()) {
    invitations_ = std::move(saved);
  }
  return st;
}

std::optional<IssuedInvitation> PeerStore::invitation_for(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  for (auto it = invitations_.rbegin(); it != invitations_.rend(); ++it)
    if (it->for_node == node_id) return *it;
  return std::nullopt;
}

Status PeerStore::complete_weave(const std::string& code, PeerRecord r, int64_t now) {
  std::unique_lock lock(mu_);
  auto inv = std::find_if(invitations_.begin(), invitations_.end(), [&](const IssuedInvitation& i) {
    return i.code == code && i.for_node == r.node_id;
  });
  if (inv == invitations_.end() || inv->used || inv->expire_at < now)
    return Status::Error(Code::kAuthCodeExpired,
                         "the invitation for " + r.node_id + " was used or has expired");
  auto saved_records = records_;
  auto saved_invitations = invitations_;
  inv->used = true;
  if (Status full = upsert_locked(std::move(r)); !full.ok()) {
    invitations_ = std::move(saved_invitations);
    return full;
  }
  Status st = commit_locked(lock);
  if (!st.ok()) {
    records_ = std::move(saved_records);
    invitations_ = std::move(saved_invitations);
  }
  return st;
}

Status PeerStore::add_join(PendingJoin j, int64_t now) {
  std::unique_lock lock(mu_);
  auto saved = joins_;
  prune_locked(now);
  std::erase_if(joins_, [&](const PendingJoin& x) { return x.inviter == j.inviter; });
  if (joins_.size() >= kMaxJoins) {
    joins_ = std::move(saved);
    return Status::Error(Code::kBufferFull, std::to_string(kMaxJoins) + " joins are pending");
  }
  joins_.push_back(std::move(j));
  Status st = commit_locked(lock);
  if (!st.ok()) {
    joins_ = std::move(saved);
  }
  return st;
}

std::optional<PendingJoin> PeerStore::join_for(const std::string& inviter) const {
  std::lock_guard lock(mu_);
  for (const auto& j : joins_)
    if (j.inviter == inviter) return j;
  return std::nullopt;
}

Status PeerStore::complete_join(PeerRecord r) {
  std::unique_lock lock(mu_);
  auto saved_records = records_;
  auto saved_joins = joins_;
  std::erase_if(joins_, [&](const PendingJoin& x) { return x.inviter == r.node_id; });
  if (Status full = upsert_locked(std::move(r)); !full.ok()) {
    joins_ = std::move(saved_joins);
    return full;
  }
  Status st = commit_locked(lock);
  if (!st.ok()) {
    records_ = std::move(saved_records);
    joins_ = std::move(saved_joins);
  }
  return st;
}

}  // namespace ptp
