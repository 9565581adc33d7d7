// Tokens one I/O thread has verified recently (docs/security.md, "Verified-token cache").
// A session sends many requests with one token; a hit costs a hash lookup instead of an
// HMAC. An entry holds the exact token and the source node, target node and session it
// was verified for, and the token's expiry (a hit still checks it). Everything is
// forgotten when the config snapshot changes (its keys may have) and when the cache is
// full. Not thread-safe: one per pipeline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "codecs/envelope.h"
#include "gateway/config/config.h"

namespace ptp {

class VerifiedTokens {
 public:
  explicit VerifiedTokens(size_t capacity = 4096) : capacity_(capacity) {}

  // The expiry of h.token if it was verified under `cfg` for h's source, target and session.
  std::optional<int64_t> find(const ConfigPtr& cfg, const PtpHeader& h);
  void remember(const ConfigPtr& cfg, const PtpHeader& h, int64_t expiry);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string source, target, session;
    int64_t expiry;
  };
  // Entries belong to one snapshot; holding it keeps its address from being reused.
  void bind(const ConfigPtr& cfg);

  size_t capacity_;
  ConfigPtr cfg_;
  std::unordered_map<std::string, Entry> entries_;  // by token
};

}  // namespace ptp
