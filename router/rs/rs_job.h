// One conversion job on one router server (docs/protocol.md, privacy router, docs/router.md),
// without any I/O: the host (gateway/rs/rs_host.h) pops messages and feeds them in, then asks for
// the encrypted chunks to deliver.
//
//   1. RsJob(spec, settings): checks the spec against this RS (public key validation and
//      fingerprint, sizes, combine_at).
//   2. add_share() for every share chunk of every party: checks ring, length, range, chunk
//      numbering, duplicates, and adds the chunk into the running sum y (mod 2^l); the
//      party's part is wiped right away. complete() once every party sent every element.
//   3. encrypt_chunk(c): y's elements of result chunk c, each read as a signed l-bit integer,
//      encrypted (DJN, batched: parallel_encrypt) on a worker pool.
//   4. With combine_at rs_a, RS-A adds RS-B's half of each chunk: combine_chunk().
// Every rejection throws std::invalid_argument with a message for the job status.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"
#include "router/rs/job_spec.h"
#include "router/rs/worker_pool.h"
#include "router/shares/share_vector.h"

namespace ptp::rs {

struct RsSettings {
  Role role = Role::kA;
  CombineAt combine_at = CombineAt::kRc;  // this RS's configuration
  int min_key_bits = he::kMinModulusBits;
  // Largest payload the queues take (queue.limits.max_message_bytes): a result chunk must fit.
  uint64_t max_message_bytes = 64ull << 20;
};

class RsJob {
 public:
  RsJob(JobSpec spec, const RsSettings& settings);
  RsJob(const RsJob&) = delete;
  RsJob& operator=(const RsJob&) = delete;

  const JobSpec& spec() const { return spec_; }
  const he::PublicKey& public_key() const { return pk_; }
  const std::string& fingerprint() const { return fingerprint_; }
  CombineAt combine_at() const { return settings_.combine_at; }
  Role role() const { return settings_.role; }

  // --- shares ---
  void add_share(int party, const ChunkInfo& info, std::string_view bytes);
  bool complete() const { return parties_complete() == spec_.parties; }
  bool party_complete(int party) const;
  int parties_complete() const;
  // What is still missing, e.g. "party 2 sent nothing", "party 3 sent 1 of 4 chunks".
  std::string missing() const;

  // --- results ---
  uint64_t result_chunks() const { return chunk_count(spec_.elements, spec_.chunk_elements); }
  // Elements [first, first + count) of y form result chunk c.
  uint64_t result_offset(uint64_t c) const { return c * spec_.chunk_elements; }
  uint64_t result_count(uint64_t c) const;
  // The descriptor sent with result chunk c (message-code).
  ChunkInfo result_info(uint64_t c) const;
  // Encrypts chunk c of y (signed reading) on `pool`. Requires complete(). When *cancel
  // becomes true the remaining elements are skipped (left null): discard the result.
  std::vector<he::Ciphertext> encrypt_chunk(uint64_t c, WorkerPool& pool,
                                            const std::atomic<bool>* cancel = nullptr) const;
  // RS-A, combine_at rs_a: checks RS-B's half of chunk c (descriptor and ciphertext array)
  // and returns mine[i] + theirs[i].
  std::vector<he::Ciphertext> combine_chunk(uint64_t c, const std::vector<he::Ciphertext>& mine,
                                            const ChunkInfo& info, std::string_view payload) const;
  // A ciphertext array message (he_wire) of shape [items.size()].
  static std::string encode_result(std::span<const he::Ciphertext> items);

  // Clears the sum (also done by the destructor: ShareVector wipes its memory).
  void wipe();

 private:
  struct PartyState {
    uint64_t chunks = 0;                     // announced by its first chunk
    uint64_t elements = 0;                   // received so far
    std::map<uint64_t, uint64_t> by_offset;  // offset -> count, to find overlaps
    std::map<uint64_t, uint64_t> by_chunk;   // chunk index -> offset
  };

  JobSpec spec_;
  RsSettings settings_;
  he::PublicKey pk_;
  std::string fingerprint_;
  std::vector<PartyState> parties_;  // index party - 1
  shares::ShareVector sum_;
};

}  // namespace ptp::rs
