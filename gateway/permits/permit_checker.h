// The checks of a presented permit that need no store (docs/authorization.md "Permits"):
// its format, the holder's signature (this node's key), holder, grantee, resource type and
// id, time window. Runs on an I/O thread on the request's head; the permit service then
// counts the use. Verified permits are remembered (bounded), so a permit presented again
// costs a lookup, not a signature check. The texts a peer presents are its choice: the
// verified ones (only this node can sign them) are kept apart from the refused ones, and
// shared between grantees, so that a peer presenting new texts evicts only its own entries
// (before, every 256 new texts, refused ones included, cleared every peer's permits, which
// then each cost a signature check again). Not thread-safe: one per pipeline.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "codecs/status.h"
#include "trust/permit.h"

namespace ptp {

// What a request asks of this node, as a permit would name it.
struct PermitScope {
  std::string_view holder;  // this node
  std::string_view source;  // the requesting node (the grantee a permit must name)
  std::string_view type;    // service, topic, router_job
  std::string_view resource;
};

class PermitChecker {
 public:
  // Verified permits kept (when full, the grantee holding the most loses its oldest), and
  // refused texts kept (oldest forgotten first).
  static constexpr size_t kMaxCached = 256;
  static constexpr size_t kMaxRefusedCached = 64;

  // Ok with the permit's id in `id`; E0000000615 for a permit that is malformed or
  // not signed by `holder_key`; E0000000614 for one that does not cover the request now.
  Status check(const PublicKey& holder_key, std::string_view text, const PermitScope& scope,
               int64_t now, std::string& id);

  // Permit signatures checked so far (the cost a presented text can cause).
  uint64_t signature_checks() const { return signature_checks_; }

 private:
  struct Entry {
    std::optional<Permit> permit;  // nullopt: refused with `error`
    Status error;
  };
  const Entry& lookup(const PublicKey& holder_key, std::string_view text);
  const Entry& keep(std::string text, Entry e);

  std::unordered_map<std::string, Entry> cache_;  // by text: verified and refused
  std::unordered_map<std::string, std::deque<std::string>> verified_by_grantee_;  // oldest first
  size_t verified_ = 0;
  std::deque<std::string> refused_;  // oldest first
  uint64_t signature_checks_ = 0;
};

// "2026-12-05T03:00:00Z"
std::string permit_time_text(int64_t unix_s);

}  // namespace ptp
