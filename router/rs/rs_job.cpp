#include "router/rs/rs_job.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "router/he/bignum.h"
#include "router/he/he_wire.h"
#include "router/rs/parallel_encrypt.h"

namespace ptp::rs {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(what); }

std::string party_name(int party) { return "party " + std::to_string(party); }

he::PublicKey load_key(const JobSpec& spec, int min_bits) {
  return he::decode_public_key(spec.public_key, min_bits).key;
}

// Serialized size of one ciphertext item (a PaillierCiphertext inside the repeated bytes
// field): c < n^2 takes at most 2 * bytes(n) bytes, plus a few bytes of protobuf tags.
uint64_t item_bytes(const he::PublicKey& pk) {
  return 2 * static_cast<uint64_t>(BN_num_bytes(pk.n())) + 16;
}

}  // namespace

RsJob::RsJob(JobSpec spec, const RsSettings& settings)
    : spec_(std::move(spec)),
      settings_(settings),
      pk_(load_key(spec_, settings.min_key_bits)),
      fingerprint_(he::public_key_fingerprint(pk_)),
      parties_(static_cast<size_t>(spec_.parties)),
      sum_(spec_.ring_bits, spec_.elements) {
  if (!spec_.fingerprint.empty() && spec_.fingerprint != fingerprint_)
    fail("job spec: fingerprint " + spec_.fingerprint + " does not match the public key (" +
         fingerprint_ + ")");
  if (spec_.combine_at && *spec_.combine_at != settings_.combine_at)
    fail("job spec: combine_at " + std::string(combine_at_name(*spec_.combine_at)) +
         ", but this router server is configured for combine_at " +
         std::string(combine_at_name(settings_.combine_at)));
  if (spec_.parties < 2) fail("job spec: at least 2 parties are needed");
  const uint64_t chunk_bytes = spec_.chunk_elements * item_bytes(pk_) + 1024;
  if (chunk_bytes > settings_.max_message_bytes)
    fail("job spec: chunk_elements " + std::to_string(spec_.chunk_elements) +
         " makes result messages of up to " + std::to_string(chunk_bytes) +
         " bytes with this key, over the " + std::to_string(settings_.max_message_bytes) +
         "-byte message limit (queue.limits.max_message_bytes); use fewer chunk_elements");
}

void RsJob::add_share(int party, const ChunkInfo& info, std::string_view bytes) {
  if (party < 1 || party > spec_.parties)
    fail(party_name(party) + " is not a party of this job (parties 1.." +
         std::to_string(spec_.parties) + ")");
  const std::string who = party_name(party);
  if (info.ring_bits == 0) fail(who + ": chunk descriptor: missing ring");
  if (info.ring_bits != spec_.ring_bits)
    fail(who + " sends shares over Z_2^" + std::to_string(info.ring_bits) +
         ", the job is over Z_2^" + std::to_string(spec_.ring_bits));
  if (info.elements != spec_.elements)
    fail(who + " sends a vector of " + std::to_string(info.elements) + " elements, the job has " +
         std::to_string(spec_.elements));
  const std::string chunk_name = "chunk " + std::to_string(info.chunk) + " of " + who;
  const size_t width = static_cast<size_t>(spec_.ring_bits / 8);
  if (bytes.empty() || bytes.size() % width != 0)
    fail(chunk_name + " has " + std::to_string(bytes.size()) + " bytes, not a whole number of " +
         std::to_string(width) + "-byte elements");
  const uint64_t count = bytes.size() / width;
  if (count > spec_.elements - info.offset)
    fail(chunk_name + " (elements " + std::to_string(info.offset) + ".." +
         std::to_string(info.offset + count - 1) + ") runs past the " +
         std::to_string(spec_.elements) + " elements of the job");
  PartyState& ps = parties_[static_cast<size_t>(party - 1)];
  if (ps.chunks == 0) {
    ps.chunks = info.chunks;
  } else if (ps.chunks != info.chunks) {
    fail(who + " announced " + std::to_string(ps.chunks) + " chunks, then " +
         std::to_string(info.chunks));
  }
  if (ps.by_chunk.count(info.chunk))
    fail(who + " sent chunk " + std::to_string(info.chunk) +
         " twice (a duplicated party, or its shares sent again by another ptp-rc run)");
  // Overlap with the run that starts at or before this one, or with the next one.
  auto next = ps.by_offset.lower_bound(info.offset);
  bool overlaps = next != ps.by_offset.end() && next->first < info.offset + count;
  if (next != ps.by_offset.begin()) {
    auto prev = std::prev(next);
    overlaps = overlaps || prev->first + prev->second > info.offset;
  }
  if (overlaps) fail(chunk_name + " overlaps elements that party already sent");

  shares::ShareVector part = shares::ShareVector::from_bytes(
      spec_.ring_bits, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  for (uint64_t i = 0; i < count; ++i)
    sum_.set(info.offset + i, sum_.get(info.offset + i) + part.get(i));
  ps.by_offset.emplace(info.offset, count);
  ps.by_chunk.emplace(info.chunk, info.offset);
  ps.elements += count;
  if (ps.by_chunk.size() == ps.chunks && ps.elements != spec_.elements)
    fail(who + " sent all " + std::to_string(ps.chunks) + " chunks but only " +
         std::to_string(ps.elements) + " of the " + std::to_string(spec_.elements) + " elements");
  if (ps.elements == spec_.elements && ps.by_chunk.size() != ps.chunks)
    fail(who + " sent all " + std::to_string(spec_.elements) + " elements in " +
         std::to_string(ps.by_chunk.size()) + " chunks but announced " + std::to_string(ps.chunks));
}

bool RsJob::party_complete(int party) const {
  if (party < 1 || party > spec_.parties) return false;
  const PartyState& ps = parties_[static_cast<size_t>(party - 1)];
  return ps.chunks != 0 && ps.by_chunk.size() == ps.chunks && ps.elements == spec_.elements;
}

int RsJob::parties_complete() const {
  int n = 0;
  for (int p = 1; p <= spec_.parties; ++p) n += party_complete(p) ? 1 : 0;
  return n;
}

std::string RsJob::missing() const {
  std::string out;
  for (int p = 1; p <= spec_.parties; ++p) {
    if (party_complete(p)) continue;
    const PartyState& ps = parties_[static_cast<size_t>(p - 1)];
    std::string what = ps.by_chunk.empty()
                           ? party_name(p) + " sent nothing"
                           : party_name(p) + " sent " + std::to_string(ps.by_chunk.size()) +
                                 " of " + std::to_string(ps.chunks) + " chunks";
    out += (out.empty() ? "" : ", ") + what;
  }
  return out;
}

uint64_t RsJob::result_count(uint64_t c) const {
  const uint64_t first = result_offset(c);
  if (first >= spec_.elements) return 0;
  return std::min(spec_.chunk_elements, spec_.elements - first);
}

ChunkInfo RsJob::result_info(uint64_t c) const {
  ChunkInfo info;
  info.chunk = c;
  info.chunks = result_chunks();
  info.elements = spec_.elements;
  info.offset = result_offset(c);
  info.key = fingerprint_;
  return info;
}

std::vector<he::Ciphertext> RsJob::encrypt_chunk(uint64_t c, WorkerPool& pool,
                                                 const std::atomic<bool>* cancel) const {
  if (!complete()) throw std::logic_error("rs job: encrypt_chunk before all shares arrived");
  const uint64_t first = result_offset(c);
  return parallel_encrypt(
      pk_, result_count(c), [&](size_t i) { return he::bn_from_i128(sum_.to_signed(first + i)); },
      pool, cancel);
}

std::vector<he::Ciphertext> RsJob::combine_chunk(uint64_t c,
                                                 const std::vector<he::Ciphertext>& mine,
                                                 const ChunkInfo& info,
                                                 std::string_view payload) const {
  const std::string what = "RS-B's chunk " + std::to_string(info.chunk);
  if (info.chunk != c) fail(what + " arrived where chunk " + std::to_string(c) + " was expected");
  if (info.chunks != result_chunks() || info.elements != spec_.elements ||
      info.offset != result_offset(c))
    fail(what + " has descriptor \"" + encode_chunk_info(info) + "\", expected \"" +
         encode_chunk_info(result_info(c)) + "\"");
  if (info.key != fingerprint_)
    fail(what + " was encrypted under another public key (fingerprint " + info.key + ")");
  he::CiphertextArray theirs = he::decode_ciphertexts(payload, pk_);
  if (theirs.items.size() != mine.size())
    fail(what + " has " + std::to_string(theirs.items.size()) + " ciphertexts, expected " +
         std::to_string(mine.size()));
  std::vector<he::Ciphertext> out;
  out.reserve(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) out.push_back(he::add(pk_, mine[i], theirs.items[i]));
  return out;
}

std::string RsJob::encode_result(std::span<const he::Ciphertext> items) {
  const int64_t shape[] = {static_cast<int64_t>(items.size())};
  return he::encode_ciphertexts(items, shape);
}

void RsJob::wipe() { sum_ = shares::ShareVector(spec_.ring_bits, 0); }

}  // namespace ptp::rs
