// The router-server (RS) conversion job's messages (docs/router.md): the job spec a client
// sends to both conversion nodes (topic "rs.job", JSON), the chunk descriptor every share and
// result message carries (extension field message-code), and the topic and message-id layout.
//
// All messages of a job travel in the PTP session whose id is the job id:
//   rs.job            job spec (JSON), to RS-A and RS-B
//   rs.share.<party>  one chunk of a party's part (raw little-endian ring elements)
//   rs.result.A/.B    an RS's encrypted half (DataExchangeProtocol), to the HE node
//                     (combine_at rc) — with combine_at rs_a, rs.result.B goes to RS-A
//   rs.result         [x] combined by RS-A (combine_at rs_a), to the HE node
// Pure: no sockets, no clocks, no threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptp::rs {

inline constexpr std::string_view kJobTopic = "rs.job";
inline constexpr std::string_view kShareTopicPrefix = "rs.share.";
inline constexpr std::string_view kResultTopicA = "rs.result.A";
inline constexpr std::string_view kResultTopicB = "rs.result.B";
inline constexpr std::string_view kResultTopic = "rs.result";
// Where an RS records that a job reached its end (state and error, JSON), in its own inbox,
// so a job id seen again is not converted twice even after a restart.
inline constexpr std::string_view kDoneTopic = "~rs.done";
// x-ptp-tech-provider-code of messages the router sends.
inline constexpr std::string_view kProviderCode = "PTPRS";
// The only output of a job: an array of Paillier ciphertexts (he_wire.h).
inline constexpr std::string_view kOutputMode = "paillier_ciphertext";

inline constexpr uint64_t kDefaultChunkElements = 16384;
inline constexpr uint64_t kMaxChunkElements = 1u << 20;
// Bounds the per-job sum (16 bytes per element).
inline constexpr uint64_t kMaxElements = 1ull << 26;
inline constexpr int kMaxParties = 1000;

// Which node adds the two encrypted halves: the receiving RC (default; an RS colluding with
// the key holder then learns nothing about the other half) or RS-A (the research report's
// literal flow: RS-B sends its half to RS-A).
enum class CombineAt { kRc, kRsA };
std::string_view combine_at_name(CombineAt c);  // "rc", "rs_a"
std::optional<CombineAt> parse_combine_at(std::string_view s);

enum class Role { kA, kB };
inline char role_letter(Role r) { return r == Role::kA ? 'A' : 'B'; }

struct JobSpec {
  std::string job_id;  // = the session id; a PTP id (A-Za-z0-9._:-)
  int ring_bits = 64;  // 64 or 128
  uint64_t elements = 0;
  int parties = 0;  // n >= 2; party numbers are 1..n
  // The node whose gateway sends the shares of party i is party_nodes[i - 1]; a router server
  // takes shares of party i from that node only. Required, one entry per party.
  std::vector<std::string> party_nodes;
  int frac_bits = 0;  // fixed-point scale of the values, carried for the HE platform
  std::string he_node;
  std::string public_key;   // encode_public_key() bytes (base64 in the JSON)
  std::string fingerprint;  // public_key_fingerprint(); checked when given
  std::string output_mode = std::string(kOutputMode);
  std::optional<CombineAt> combine_at;              // absent: the RS's configuration decides
  uint64_t chunk_elements = kDefaultChunkElements;  // elements per result message
};

// JSON object with the fields above; public_key in base64, combine_at omitted when unset.
std::string encode_job_spec(const JobSpec& spec);
// Structural checks (types, ranges, ids, base64). The public key itself is checked by the
// job (RsJob). Throws std::invalid_argument("job spec: ...").
JobSpec parse_job_spec(std::string_view json);

// "rs.share.<party>"; party_of_topic is its inverse (nullopt for anything else, including
// leading zeros, so one party has exactly one topic).
std::string share_topic(int party);
std::optional<int> party_of_topic(std::string_view topic);

// The descriptor of one chunk, in the extension field message-code (PTP relays only its
// standard extension fields between gateways):
//   shares:  "chunk=<i> chunks=<n> elements=<total> offset=<first element> ring=<l>"
//   results: "chunk=<i> chunks=<n> elements=<total> offset=<first element> key=<fingerprint>"
// The number of elements in the chunk follows from the payload.
struct ChunkInfo {
  uint64_t chunk = 0;
  uint64_t chunks = 0;
  uint64_t elements = 0;
  uint64_t offset = 0;
  int ring_bits = 0;  // shares only
  std::string key;    // results only: fingerprint of the public key
};
std::string encode_chunk_info(const ChunkInfo& c);
// Throws std::invalid_argument("chunk descriptor: ...") on a malformed or inconsistent value
// (chunk >= chunks, offset >= elements, unknown or repeated keys).
ChunkInfo parse_chunk_info(std::string_view text);

// Number of chunks of `elements` split into runs of `chunk_elements` (at least one).
uint64_t chunk_count(uint64_t elements, uint64_t chunk_elements);

// Message ids, deterministic so that a repeated delivery is stored once:
//   "<job>.<tag>.<chunk>" (tag A, B or R for RS-A's combined result).
std::string result_message_id(std::string_view job, char tag, uint64_t chunk);

}  // namespace ptp::rs
