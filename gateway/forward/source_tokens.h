// The s1 tokens this node puts on the requests it originates toward targets whose mode is
// signature (docs/security.md, "Authentication modes"): signed with this node's key
// (identity.dir/node.key), one per (target, session), valid for 300 s (at most
// auth.max_token_lifetime_s) and minted again after half of that. Forgotten when the key
// changes (a reload loads it again) and when the cache is full. Not thread-safe: one per
// I/O thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

class SourceTokens {
 public:
  static constexpr int64_t kLifetimeS = 300;

  explicit SourceTokens(size_t capacity = 4096) : capacity_(capacity) {}

  // A request from this node (h.source_node_id == cfg.node_id): when auth is on and the
  // target's mode is signature, h.token becomes this node's s1 token for h's target and
  // session; other modes keep the token as it is. Fails (kSystemError) only when there is
  // no node key or signing fails.
  Status apply(const Config& cfg, PtpHeader& h, int64_t now_unix);
  // The s1 token from this node to `target` in `session`, from the cache or minted.
  Status token(const Config& cfg, std::string_view target, std::string_view session,
               int64_t now_unix, const std::string*& out);
  size_t size() const { return entries_.size(); }
  uint64_t minted() const { return minted_; }

 private:
  struct Entry {
    std::string token;
    int64_t renew_at;  // minted again from this time on
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(const std::pair<std::string_view, std::string_view>& k) const noexcept;
    size_t operator()(const std::pair<std::string, std::string>& k) const noexcept {
      return (*this)(std::pair<std::string_view, std::string_view>(k.first, k.second));
    }
  };
  struct Eq {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return std::string_view(a.first) == std::string_view(b.first) &&
             std::string_view(a.second) == std::string_view(b.second);
    }
  };

  size_t capacity_;
  std::shared_ptr<const NodeKey> key_;  // the key the entries were signed with
  std::unordered_map<std::pair<std::string, std::string>, Entry, Hash, Eq> entries_;
  uint64_t minted_ = 0;
};

}  // namespace ptp
