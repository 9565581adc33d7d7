// The dynamic peer table (docs/peering.md): the peers the handshake recorded, the
// invitations this node issued and the joins it started, kept in one JSON file in the data
// directory (mode 0600), rewritten atomically on every change and read back at start.
// Thread-safe; bounded (kMaxRecords peers, kMaxInvitations open invitations, kMaxJoins
// pending joins); expired invitations and joins are pruned.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

// A peer recorded by the handshake (or written by a platform through net/refresh).
struct PeerRecord {
  std::string node_id;
  std::string inst_id;
  std::string name;
  std::string inst_name;
  std::string address;  // host:port
  std::string root_pem;
  std::string root_fp;  // lowercase hex SHA-256 of the root's DER
  PeerState state = PeerState::kActive;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // unix time; 0: never
  AuthMode auth_mode = AuthMode::kSignature;
  std::string origin;  // "invited" (it joined us), "joined" (we joined it), "refresh"
};

// A one-time invitation this node issued for node `for_node`.
struct IssuedInvitation {
  std::string code;  // 64 hex characters
  std::string for_node;
  int64_t created_at = 0;
  int64_t expire_at = 0;
  bool used = false;
};

// A join this node started with another node's invitation, waiting for its ack.
struct PendingJoin {
  std::string inviter;
  std::string inst;
  std::string address;
  std::string root_fp;
  std::string code;
  int64_t created_at = 0;
  int64_t expire_at = 0;  // the invitation's expiry; the join is pruned a day after
};

class PeerStore {
 public:
  static constexpr size_t kMaxRecords = 1024;
  static constexpr size_t kMaxInvitations = 256;
  static constexpr size_t kMaxJoins = 256;

  // Reads `path` when it exists (a missing file is an empty table). nullptr and `error`
  // naming the file when it cannot be read or parsed.
  static std::unique_ptr<PeerStore> open(std::string path, std::string& error);

  // Called after every change that was written, outside the store's lock.
  void set_on_change(std::function<void()> fn);

  std::vector<PeerRecord> records() const;
  std::optional<PeerRecord> find(const std::string& node_id) const;
  // Inserts or replaces the record of r.node_id. kBufferFull beyond kMaxRecords.
  Status put(PeerRecord r);
  // kNotFound when there is no record.
  Status remove(const std::string& node_id);
  Status set_state(const std::string& node_id, PeerState state);
  Status set_expiry(const std::string& node_id, int64_t expires_at);

  // Adds an invitation; an earlier unused one for the same node is dropped. Expired ones
  // are pruned first; kBufferFull when kMaxInvitations are still open.
  Status add_invitation(IssuedInvitation inv, int64_t now);
  // The latest invitation for `node_id` (used or expired ones too), if any.
  std::optional<IssuedInvitation> invitation_for(const std::string& node_id) const;
  // The weave's last step, atomically: the invitation `code` for `r.node_id` must still be
  // unused and unexpired (else kAuthCodeExpired); it is marked used and `r` recorded,
  // written before this returns.
  Status complete_weave(const std::string& code, PeerRecord r, int64_t now);

  Status add_join(PendingJoin j, int64_t now);
  std::optional<PendingJoin> join_for(const std::string& inviter) const;
  // The ack's last step: drops the pending join of r.node_id and records r, atomically.
  Status complete_join(PeerRecord r);

  const std::string& path() const { return path_; }

 private:
  explicit PeerStore(std::string path) : path_(std::move(path)) {}
  // Writes the table (mu_ held). On failure the in-memory change is undone by the caller.
  Status save_locked() const;
  void prune_locked(int64_t now);
  Status commit_locked(std::unique_lock<std::mutex>& lock);
  // Inserts or replaces r's record in memory (mu_ held); kBufferFull beyond kMaxRecords.
  Status upsert_locked(PeerRecord r);

  std::string path_;
  mutable std::mutex mu_;
  std::vector<PeerRecord> records_;
  std::vector<IssuedInvitation> invitations_;
  std::vector<PendingJoin> joins_;
  std::function<void()> on_change_;
};

// The file's text (a JSON object with "peers", "invitations", "joins").
std::string peer_store_json(const std::vector<PeerRecord>& records,
                            const std::vector<IssuedInvitation>& invitations,
                            const std::vector<PendingJoin>& joins);

}  // namespace ptp
