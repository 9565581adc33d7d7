#include "router/rs/parallel_encrypt.h"

#include <algorithm>
#include <utility>

namespace ptp::rs {

std::vector<he::Ciphertext> parallel_encrypt(const he::PublicKey& pk, size_t count,
                                             const std::function<he::Bn(size_t)>& plaintext,
                                             WorkerPool& pool, const std::atomic<bool>* cancel) {
  constexpr size_t kLanes = he::FixedBaseTable::kBatchLanes;
  std::vector<he::Ciphertext> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.emplace_back(he::Bn(nullptr));
  pool.parallel_for((count + kLanes - 1) / kLanes, [&](size_t group) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return;
    const size_t first = group * kLanes;
    const size_t lanes = std::min(kLanes, count - first);
    std::vector<he::Bn> ms;
    std::vector<const BIGNUM*> ptrs;
    for (size_t k = 0; k < lanes; ++k) {
      ms.push_back(plaintext(first + k));
      ptrs.push_back(ms.back().get());
    }
    std::vector<he::Ciphertext> cs = he::encrypt_batch(pk, ptrs);
    for (size_t k = 0; k < lanes; ++k) out[first + k] = std::move(cs[k]);
    for (he::Bn& m : ms) BN_clear(m.get());  // plaintext shares
  });
  return out;
}

}  // namespace ptp::rs
