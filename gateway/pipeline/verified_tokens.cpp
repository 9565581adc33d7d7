#include "gateway/pipeline/verified_tokens.h"

namespace ptp {

void VerifiedTokens::bind(const ConfigPtr& cfg) {
  if (cfg_ == cfg) return;
  entries_.clear();
  cfg_ = cfg;
}

std::optional<int64_t> VerifiedTokens::find(const ConfigPtr& cfg, const PtpHeader& h) {
  bind(cfg);
  auto it = entries_.find(h.token);
  if (it == entries_.end()) return std::nullopt;
  const Entry& e = it->second;
  // The token's MAC covers these three: the same token with others is not this entry.
  if (e.source != h.source_node_id || e.target != h.target_node_id || e.session != h.session_id)
    return std::nullopt;
  return e.expiry;
}

void VerifiedTokens::remember(const ConfigPtr& cfg, const PtpHeader& h, int64_t expiry) {
  bind(cfg);
  if (entries_.size() >= capacity_) entries_.clear();  // simple and bounded
  entries_.insert_or_assign(h.token,
                            Entry{h.source_node_id, h.target_node_id, h.session_id, expiry});
}

}  // namespace ptp
