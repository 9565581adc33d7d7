// The router client (RC) operations behind `ptp-rc` (docs/router.md): what an SS platform
// (send-shares) and an HE platform (keygen, start-job, receive, decrypt) run. All transport
// goes through the platform's own gateway (gateway_client.h).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "router/rs/job_spec.h"

namespace ptp::rc {

// Where and who: the local gateway, this platform's node id, and the file with its key.
struct NodeOptions {
  std::string gateway;  // http://host:port
  std::string node;
  std::string key_file;
  std::string crypto = "international";  // --crypto: the gateway's profile (g1 tokens under gm)
};

struct KeygenOptions {
  int bits = 2048;
  std::string public_key;  // output: wire format (he_wire.h)
  std::string secret_key;  // output: test/demo format (key_files.h)
};
// Prints the key's fingerprint.
void keygen(const KeygenOptions& o, std::ostream& out);

struct StartJobOptions {
  NodeOptions node;
  std::string job;
  std::string rs_a, rs_b, he_node;
  int parties = 0;
  // The node of each party's gateway (the job spec's party_nodes); one entry: every party.
  std::vector<std::string> party_nodes;
  int ring = 64;
  uint64_t elements = 0;
  std::string public_key;  // file, either form of he_wire.h's decode_public_key
  uint64_t chunk_elements = rs::kDefaultChunkElements;
  int frac_bits = 0;
  std::optional<rs::CombineAt> combine_at;  // unset: the router servers' configuration
  bool print_spec = false;                  // print the spec JSON instead of sending it
};
// Sends the job spec (topic rs.job) to RS-A and RS-B. Message id "<job>.spec": running it
// again for the same job is stored once.
void start_job(const StartJobOptions& o, std::ostream& out);

struct SendSharesOptions {
  NodeOptions node;
  std::string job;
  int party = 0;
  int ring = 64;
  std::string in;  // little-endian ring elements, ring/8 bytes each
  std::string rs_a, rs_b;
  uint64_t chunk_elements = rs::kDefaultChunkElements;
};
// Splits each chunk of the share vector into two uniformly random parts (CSPRNG) and pushes
// one to RS-A, the other to RS-B (topic rs.share.<party>). Message ids carry a random run
// nonce: a retried push is stored once, but a second run for the same party is seen by the
// router servers as a duplicate (its random parts must never mix with the first run's).
void send_shares(const SendSharesOptions& o, std::ostream& out);

struct ReceiveOptions {
  NodeOptions node;
  std::string job;
  std::string public_key;
  std::string out;
  int timeout_s = 120;                      // longest wait for the next message
  std::optional<rs::CombineAt> combine_at;  // unset: detected from what arrives
};
// Pops rs.result.A and rs.result.B (adding them) or rs.result, checks every chunk (order,
// sizes, key fingerprint, ciphertext range) and writes [x] as one ciphertext array of shape
// [elements]. Releases the consumed topics at the end.
void receive(const ReceiveOptions& o, std::ostream& out);

struct DecryptOptions {
  std::string secret_key;
  std::string in;
  std::string out;
  int ring = 0;  // 64 / 128: reduce each value mod 2^ring and read it as signed
  unsigned threads = 0;
};
// One signed decimal per line.
void decrypt(const DecryptOptions& o, std::ostream& out);

}  // namespace ptp::rc
