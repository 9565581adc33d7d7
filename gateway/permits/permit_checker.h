// The checks of a presented permit that need no store (docs/authorization.md "Permits"):
// its format, the holder's signature (this node's key), holder, grantee, resource type and
// id, time window. Runs on an I/O thread on the request's head; the permit service then
// counts the use. Verified permits are remembered (bounded), so a permit presented again
// costs a lookup, not a signature check. Not thread-safe: one per pipeline.
#pragma once

#include <cstdint>
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
  static constexpr size_t kMaxCached = 256;

  // Ok with the permit's id in `id`; E0000000615 for a permit that is malformed or
  // not signed by `holder_key`; E0000000614 for one that does not cover the request now.
  Status check(const PublicKey& holder_key, std::string_view text, const PermitScope& scope,
               int64_t now, std::string& id);

 private:
  struct Entry {
    std::optional<Permit> permit;  // nullopt: refused with `error`
    Status error;
  };
  const Entry& lookup(const PublicKey& holder_key, std::string_view text);
  std::unordered_map<std::string, Entry> cache_;
};

// "2026-12-05T03:00:00Z"
std::string permit_time_text(int64_t unix_s);

}  // namespace ptp
