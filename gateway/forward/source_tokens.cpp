#include "gateway/forward/source_tokens.h"

#include <algorithm>
#include <functional>

#include "trust/signed_token.h"

namespace ptp {

size_t SourceTokens::Hash::operator()(
    const std::pair<std::string_view, std::string_view>& k) const noexcept {
  const size_t a = std::hash<std::string_view>{}(k.first);
  return a ^
         (std::hash<std::string_view>{}(k.second) + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
}

Status SourceTokens::token(const Config& cfg, std::string_view target, std::string_view session,
                           int64_t now_unix, const std::string*& out) {
  const auto& key = cfg.identity.node_key;
  if (!key)
    return Status::Error(Code::kSystemError, "no node key to sign the token for node " +
                                                 std::string(target) + " with (identity.dir)");
  if (key != key_) {  // another key (a reload): what the old one signed is not reused
    entries_.clear();
    key_ = key;
  }
  auto it = entries_.find(std::pair<std::string_view, std::string_view>(target, session));
  if (it != entries_.end() && now_unix < it->second.renew_at) {
    out = &it->second.token;
    return Status::Ok();
  }
  const int64_t lifetime = std::min<int64_t>(kLifetimeS, cfg.auth.max_token_lifetime.count());
  std::string t = mint_signed_token(*key, cfg.node_id, target, session, now_unix + lifetime);
  if (t.empty())
    return Status::Error(Code::kSystemError,
                         "cannot sign the token for node " + std::string(target));
  ++minted_;
  const int64_t renew_at = now_unix + lifetime / 2;
  if (it != entries_.end()) {
    it->second = Entry{std::move(t), renew_at};
  } else {
    if (entries_.size() >= capacity_) entries_.clear();  // simple and bounded
    it = entries_
             .emplace(std::pair<std::string, std::string>(target, session),
                      Entry{std::move(t), renew_at})
             .first;
  }
  out = &it->second.token;
  return Status::Ok();
}

Status SourceTokens::apply(const Config& cfg, PtpHeader& h, int64_t now_unix) {
  if (!cfg.auth.enabled || auth_mode_for(cfg, h.target_node_id) != AuthMode::kSignature)
    return Status::Ok();
  const std::string* t = nullptr;
  if (Status st = token(cfg, h.target_node_id, h.session_id, now_unix, t); !st.ok()) return st;
  h.token = *t;
  return Status::Ok();
}

}  // namespace ptp
