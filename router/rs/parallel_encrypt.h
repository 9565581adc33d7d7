// DJN encryption of a vector on a worker pool, in lane groups: the RS's way to encrypt a
// result chunk (RsJob::encrypt_chunk), also what ptp-bench-router_bench times as its
// encryption-only reference.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/paillier.h"
#include "router/rs/worker_pool.h"

namespace ptp::rs {

// Encrypts plaintext(i) for every i in [0, count) with he::encrypt_batch, one task per group
// of he::FixedBaseTable::kBatchLanes elements (so each task shares its table row scans).
// plaintext() is called from the pool's threads; its values are cleared once encrypted. When
// *cancel becomes true the remaining groups are skipped (their results left null).
std::vector<he::Ciphertext> parallel_encrypt(const he::PublicKey& pk, size_t count,
                                             const std::function<he::Bn(size_t)>& plaintext,
                                             WorkerPool& pool,
                                             const std::atomic<bool>* cancel = nullptr);

}  // namespace ptp::rs
