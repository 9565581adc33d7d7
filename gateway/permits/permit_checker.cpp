#include "gateway/permits/permit_checker.h"

#include <ctime>

#include "common/glob.h"

namespace ptp {

std::string permit_time_text(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const PermitChecker::Entry& PermitChecker::keep(std::string text, Entry e) {
  if (!e.permit) {
    if (refused_.size() >= kMaxRefusedCached) {
      cache_.erase(refused_.front());
      refused_.pop_front();
    }
    refused_.push_back(text);
    return cache_.emplace(std::move(text), std::move(e)).first->second;
  }
  const std::string& grantee = e.permit->payload.grantee;
  if (verified_ >= kMaxCached) {
    // The grantee holding the most (this one first among equals) loses its oldest.
    auto largest = verified_by_grantee_.find(grantee);
    for (auto it = verified_by_grantee_.begin(); it != verified_by_grantee_.end(); ++it)
      if (largest == verified_by_grantee_.end() || it->second.size() > largest->second.size())
        largest = it;
    cache_.erase(largest->second.front());
    largest->second.pop_front();
    if (largest->second.empty()) verified_by_grantee_.erase(largest);
    --verified_;
  }
  verified_by_grantee_[grantee].push_back(text);
  ++verified_;
  return cache_.emplace(std::move(text), std::move(e)).first->second;
}

const PermitChecker::Entry& PermitChecker::lookup(const PublicKey& holder_key,
                                                  std::string_view text) {
  auto it = cache_.find(std::string(text));
  if (it != cache_.end()) return it->second;
  Entry e;
  std::string error;
  e.permit = parse_permit(text, error);
  if (!e.permit) {
    e.error = Status::Error(Code::kBadCertSignature, "x-ptp-permit: " + error);
  } else if (++signature_checks_, !verify_permit(holder_key, *e.permit)) {
    e.error = Status::Error(Code::kBadCertSignature,
                            "permit " + e.permit->payload.id + " is not signed by its holder " +
                                e.permit->payload.holder + " (altered or forged)");
    e.permit.reset();
  }
  return keep(std::string(text), std::move(e));
}

Status PermitChecker::check(const PublicKey& holder_key, std::string_view text,
                            const PermitScope& s, int64_t now, std::string& id) {
  auto refuse = [](std::string msg) { return Status::Error(Code::kNotPermitted, std::move(msg)); };
  if (text.size() > kMaxPermitText)
    return Status::Error(
        Code::kBadCertSignature,
        "x-ptp-permit: longer than " + std::to_string(kMaxPermitText) + " characters");
  const Entry& e = lookup(holder_key, text);
  if (!e.permit) return e.error;
  const PermitPayload& p = e.permit->payload;
  const std::string name = "permit " + p.id;
  if (p.holder != s.holder)
    return refuse(name + " was issued by node " + p.holder + ", not by node " +
                  std::string(s.holder));
  if (p.grantee != s.source)
    return refuse(name + " was granted to node " + p.grantee + ", not to node " +
                  std::string(s.source));
  if (p.type != s.type || !glob_match(p.resource, s.resource))
    return refuse(name + " covers " + p.type + " '" + p.resource + "', not " + std::string(s.type) +
                  " '" + std::string(s.resource) + "'");
  if (now < p.not_before)
    return refuse(name + " is not valid before " + permit_time_text(p.not_before));
  if (now > p.not_after) return refuse(name + " expired at " + permit_time_text(p.not_after));
  id = p.id;
  return Status::Ok();
}

}  // namespace ptp
