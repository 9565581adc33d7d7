// The public keys of the peers' pinned roots (peers[i].root_pem) that one thread checks
// signature tokens, message signatures and receipts with: each parsed on first use and kept until
// the config snapshot changes, so a request costs a hash lookup, not a certificate parse. A root
// that does not parse is remembered with its error. Not thread-safe: one per pipeline, one for the
// outbox.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/config/config.h"
#include "trust/public_key.h"

namespace ptp {

class RootKeys {
 public:
  // The key of node_id's pinned root under `cfg`; nullptr when node_id is no peer, has no
  // root (error empty) or its root does not parse (error says why).
  const PublicKey* find(const ConfigPtr& cfg, std::string_view node_id, std::string& error);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<PublicKey> key;
    std::string error;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  void bind(const ConfigPtr& cfg);

  ConfigPtr cfg_;  // the snapshot the entries belong to (held: its address is not reused)
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

}  // namespace ptp
