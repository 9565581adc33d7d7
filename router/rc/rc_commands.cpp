#include "router/rc/rc_commands.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "codecs/validate.h"
#include "common/random_hex.h"
#include "router/he/bignum.h"
#include "router/he/he_wire.h"
#include "router/he/paillier.h"
#include "router/rc/gateway_client.h"
#include "router/rc/key_files.h"
#include "router/rs/worker_pool.h"
#include "router/shares/prg.h"
#include "router/shares/share_vector.h"

namespace ptp::rc {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

void check_id(const char* what, const std::string& v) {
  if (v.size() > 128 || !is_valid_id(v))
    fail(std::string(what) + " must be 1 to 128 characters of A-Za-z0-9._:-, got \"" +
         v.substr(0, 64) + "\"");
}

void check_ring(int ring) {
  if (ring != 64 && ring != 128) fail("--ring must be 64 or 128");
}

GatewayClient client(const NodeOptions& n) {
  if (n.gateway.empty() || n.node.empty() || n.key_file.empty())
    fail("--gateway, --node and --key-file are required");
  check_id("--node", n.node);
  if (n.crypto != "international" && n.crypto != "gm")
    fail("--crypto must be international or gm, got \"" + n.crypto + "\"");
  return GatewayClient(n.gateway, n.node, read_node_key(n.key_file),
                       n.crypto == "gm" ? MacDigest::kSm3 : MacDigest::kSha256);
}

// Bytes that may hold a share: wiped when freed.
using SecretBytes = std::vector<uint8_t, shares::WipingAllocator<uint8_t>>;

std::string_view view(const SecretBytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

void keygen(const KeygenOptions& o, std::ostream& out) {
  if (o.public_key.empty() || o.secret_key.empty())
    fail("--public-key and --secret-key (output files) are required");
  he::PrivateKey sk = he::generate_private_key(o.bits);
  write_file(o.public_key, he::encode_public_key(sk.public_key()));
  write_secret_key(o.secret_key, sk);
  out << "Paillier key of " << sk.public_key().modulus_bits() << " bits; fingerprint "
      << he::public_key_fingerprint(sk.public_key()) << "\n"
      << "public key: " << o.public_key << "\nsecret key: " << o.secret_key
      << " (test/demo format, keep it private)\n";
}

void start_job(const StartJobOptions& o, std::ostream& out) {
  check_id("--job", o.job);
  check_id("--rs-a", o.rs_a);
  check_id("--rs-b", o.rs_b);
  check_id("--he-node", o.he_node);
  if (o.rs_a == o.rs_b) fail("--rs-a and --rs-b must be two different nodes (non-collusion)");
  check_ring(o.ring);
  rs::JobSpec spec;
  spec.job_id = o.job;
  spec.ring_bits = o.ring;
  spec.elements = o.elements;
  spec.parties = o.parties;
  for (const std::string& n : o.party_nodes) check_id("--party-nodes", n);
  if (o.party_nodes.size() == 1 && o.parties > 1)
    spec.party_nodes.assign(static_cast<size_t>(o.parties), o.party_nodes[0]);
  else
    spec.party_nodes = o.party_nodes;
  if (spec.party_nodes.size() != static_cast<size_t>(std::max(o.parties, 0)))
    fail("--party-nodes names " + std::to_string(o.party_nodes.size()) + " nodes for " +
         std::to_string(o.parties) + " parties (one per party, or one for all)");
  spec.frac_bits = o.frac_bits;
  spec.he_node = o.he_node;
  spec.public_key = read_file(o.public_key);
  spec.combine_at = o.combine_at;
  spec.chunk_elements = o.chunk_elements;
  he::DecodedPublicKey pk = he::decode_public_key(spec.public_key);
  spec.fingerprint = he::public_key_fingerprint(pk.key);
  const std::string json = rs::encode_job_spec(spec);
  rs::parse_job_spec(json);  // the same checks the router servers make
  if (o.print_spec) {
    out << json << "\n";
    return;
  }
  GatewayClient gw = client(o.node);
  for (const std::string& rs_node : {o.rs_a, o.rs_b})
    gw.push(rs_node, o.job, std::string(rs::kJobTopic), json,
            {{"message-id", o.job + ".spec"}, {"job-id", o.job}});
  out << "job " << o.job << " sent to " << o.rs_a << " and " << o.rs_b << " (" << o.parties
      << " parties, " << o.elements << " elements over Z_2^" << o.ring << ", key "
      << spec.fingerprint << ")\n";
}

void send_shares(const SendSharesOptions& o, std::ostream& out) {
  check_id("--job", o.job);
  check_id("--rs-a", o.rs_a);
  check_id("--rs-b", o.rs_b);
  if (o.rs_a == o.rs_b) fail("--rs-a and --rs-b must be two different nodes (non-collusion)");
  check_ring(o.ring);
  if (o.party < 1 || o.party > rs::kMaxParties)
    fail("--party must be from 1 to " + std::to_string(rs::kMaxParties));
  if (o.chunk_elements < 1 || o.chunk_elements > rs::kMaxChunkElements)
    fail("--chunk-elements must be from 1 to " + std::to_string(rs::kMaxChunkElements));
  std::ifstream in(o.in, std::ios::binary | std::ios::ate);
  if (!in) fail("cannot read " + o.in);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  const uint64_t width = static_cast<uint64_t>(o.ring / 8);
  if (size == 0 || size % width != 0)
    fail(o.in + " has " + std::to_string(size) + " bytes, not a whole number of " +
         std::to_string(width) + "-byte elements (ring " + std::to_string(o.ring) + ")");
  const uint64_t elements = size / width;
  if (elements > rs::kMaxElements)
    fail(o.in + " holds more than " + std::to_string(rs::kMaxElements) + " elements");
  const uint64_t chunks = rs::chunk_count(elements, o.chunk_elements);
  GatewayClient gw = client(o.node);
  shares::Prg prg;
  const std::string topic = rs::share_topic(o.party);
  const std::string run = random_hex(8);
  SecretBytes buf, part_a, part_b;
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t first = c * o.chunk_elements;
    const uint64_t count = std::min(o.chunk_elements, elements - first);
    buf.resize(count * width);
    if (!in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size())))
      fail("cannot read " + o.in);
    auto [a, b] = shares::split(shares::ShareVector::from_bytes(o.ring, buf), prg);
    part_a.resize(buf.size());
    part_b.resize(buf.size());
    a.write(part_a);
    b.write(part_b);
    rs::ChunkInfo info;
    info.chunk = c;
    info.chunks = chunks;
    info.elements = elements;
    info.offset = first;
    info.ring_bits = o.ring;
    const std::map<std::string, std::string> meta{
        {"message-id",
         o.job + ".p" + std::to_string(o.party) + "." + run + "." + std::to_string(c)},
        {"message-code", rs::encode_chunk_info(info)},
        {"job-id", o.job}};
    gw.push(o.rs_a, o.job, topic, view(part_a), meta);
    gw.push(o.rs_b, o.job, topic, view(part_b), meta);
  }
  out << "party " << o.party << ": " << elements << " elements in " << chunks << " chunks sent to "
      << o.rs_a << " and " << o.rs_b << " (job " << o.job << ")\n";
}

void receive(const ReceiveOptions& o, std::ostream& out) {
  check_id("--job", o.job);
  if (o.out.empty()) fail("--out is required");
  he::PublicKey pk = he::decode_public_key(read_file(o.public_key)).key;
  const std::string fingerprint = he::public_key_fingerprint(pk);
  GatewayClient gw = client(o.node);
  const auto patience = std::chrono::seconds(o.timeout_s);
  Clock::time_point deadline = Clock::now() + patience;

  // Which flow: two halves (combine_at rc) or the combined result (rs_a)?
  std::optional<rs::CombineAt> mode = o.combine_at;
  while (!mode) {
    if (gw.peek(o.job, std::string(rs::kResultTopicA)) ||
        gw.peek(o.job, std::string(rs::kResultTopicB)))
      mode = rs::CombineAt::kRc;
    else if (gw.peek(o.job, std::string(rs::kResultTopic)))
      mode = rs::CombineAt::kRsA;
    else if (Clock::now() >= deadline)
      fail("no result for job " + o.job + " arrived within " + std::to_string(o.timeout_s) +
           " s (check GET /rs/jobs/" + o.job + " on the router servers' admin ports)");
    else
      std::this_thread::sleep_for(milliseconds(200));
  }
  std::vector<std::string> topics;
  if (*mode == rs::CombineAt::kRc)
    topics = {std::string(rs::kResultTopicA), std::string(rs::kResultTopicB)};
  else
    topics = {std::string(rs::kResultTopic)};

  std::vector<he::Ciphertext> result;
  uint64_t chunks = 1, elements = 0;
  std::vector<std::string> sources(topics.size());
  for (uint64_t c = 0; c < chunks; ++c) {
    std::vector<std::vector<he::Ciphertext>> parts;
    for (size_t t = 0; t < topics.size(); ++t) {
      std::optional<PoppedMessage> m;
      while (!m) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
          fail("chunk " + std::to_string(c) + " of " + topics[t] + " for job " + o.job +
               " did not arrive within " + std::to_string(o.timeout_s) + " s (check GET /rs/jobs/" +
               o.job + " on the router servers' admin ports)");
        m = gw.pop(o.job, topics[t], std::min(left, milliseconds(30000)));
      }
      deadline = Clock::now() + patience;
      const std::string where = topics[t] + " chunk " + std::to_string(c);
      rs::ChunkInfo info = rs::parse_chunk_info(m->header("x-ptp-message-code"));
      if (c == 0) {
        if (t == 0) {
          chunks = info.chunks;
          elements = info.elements;
          result.reserve(elements);
        }
        sources[t] = m->header("x-ptp-source-node-id");
      }
      if (info.chunk != c)
        fail(where + ": got chunk " + std::to_string(info.chunk) + " instead (job " + o.job + ")");
      if (info.chunks != chunks || info.elements != elements)
        fail(where + ": descriptor \"" + m->header("x-ptp-message-code") +
             "\" does not match the first chunk (" + std::to_string(chunks) + " chunks, " +
             std::to_string(elements) + " elements)");
      if (info.offset != result.size())
        fail(where + ": offset " + std::to_string(info.offset) + ", expected " +
             std::to_string(result.size()));
      if (info.key != fingerprint)
        fail(where + ": encrypted under key " + info.key + ", not this public key (" + fingerprint +
             ")");
      he::CiphertextArray arr = he::decode_ciphertexts(m->payload, pk);
      if (arr.items.empty() || result.size() + arr.items.size() > elements)
        fail(where + ": " + std::to_string(arr.items.size()) + " ciphertexts do not fit the " +
             std::to_string(elements) + " elements");
      if (!parts.empty() && arr.items.size() != parts[0].size())
        fail(where + ": " + std::to_string(arr.items.size()) + " ciphertexts, the other half has " +
             std::to_string(parts[0].size()));
      parts.push_back(std::move(arr.items));
    }
    if (parts.size() == 2) {
      for (size_t i = 0; i < parts[0].size(); ++i)
        result.push_back(he::add(pk, parts[0][i], parts[1][i]));
    } else {
      for (auto& ct : parts[0]) result.push_back(std::move(ct));
    }
  }
  if (result.size() != elements)
    fail("received " + std::to_string(result.size()) + " of " + std::to_string(elements) +
         " elements");
  if (sources.size() == 2 && !sources[0].empty() && sources[0] == sources[1])
    fail("both halves came from node " + sources[0] +
         ": the two router servers must be different nodes (non-collusion)");
  const int64_t shape[] = {static_cast<int64_t>(elements)};
  write_file(o.out, he::encode_ciphertexts(result, shape));
  for (const auto& t : topics) gw.release(o.job, t);
  out << "job " << o.job << ": [x] of " << elements << " elements written to " << o.out << " ("
      << (*mode == rs::CombineAt::kRc
              ? "halves from " + sources[0] + " and " + sources[1] + " added here"
              : "combined by " + sources[0])
      << ")\n";
}

void decrypt(const DecryptOptions& o, std::ostream& out) {
  if (o.secret_key.empty() || o.in.empty() || o.out.empty())
    fail("--secret-key, --in and --out are required");
  if (o.ring != 0) check_ring(o.ring);
  he::PrivateKey sk = read_secret_key(o.secret_key);
  he::CiphertextArray arr = he::decode_ciphertexts(read_file(o.in), sk.public_key());
  std::vector<std::string> lines(arr.items.size());
  he::Bn modulus = he::bn_new(), half = he::bn_new();
  if (o.ring) {
    he::bn_check(BN_lshift(modulus.get(), BN_value_one(), o.ring), "BN_lshift");
    he::bn_check(BN_rshift1(half.get(), modulus.get()), "BN_rshift1");
  }
  rs::WorkerPool pool(o.threads);
  pool.parallel_for(arr.items.size(), [&](size_t i) {
    he::Bn m = he::decrypt(sk, arr.items[i]);
    if (o.ring) {
      he::BnCtx ctx = he::bn_ctx_new();
      he::bn_check(BN_nnmod(m.get(), m.get(), modulus.get(), ctx.get()), "BN_nnmod");
      if (BN_cmp(m.get(), half.get()) >= 0)
        he::bn_check(BN_sub(m.get(), m.get(), modulus.get()), "BN_sub");
    }
    lines[i] = he::bn_to_dec(m.get());
    BN_clear(m.get());
  });
  std::string text;
  for (auto& l : lines) {
    text += l;
    text += '\n';
  }
  write_file(o.out, text, 0600);
  OPENSSL_cleanse(text.data(), text.size());
  out << arr.items.size() << " values decrypted to " << o.out << "\n";
}

}  // namespace ptp::rc
