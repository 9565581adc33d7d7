// What message evidence cannot cost less than per request on this machine (docs/benchmarks.md,
// "The floor"): the work the evidence requirements themselves call for, measured piece by
// piece with the gateway's own primitives, one thread, nothing else of a request around it:
//   - the body's digest, at the sender and again at the receiver;
//   - the message leaf (its statement text and digest) at both ends, the receipt leaf at both;
//   - the leaf's share of its batch's Merkle tree, at the signer of each direction;
//   - one signature and one signature check per batch and direction (messages A -> B,
//     receipts B -> A), divided by the batch size;
//   - one chained record per message at each end (`sent` at A, `received` at B: formatted by
//     the caller, numbered, chained, written and synced by the writer thread; CPU of both).
// No headers, parsing, copies, closures or waiting: a real gateway adds those. Prints each
// piece, the sum for batch sizes 16 to 256, and, given the CPU per request of the chain
// without evidence (`--off-us`, from evidence_signing_bench.py --threads: A + B + client +
// service), the best on/off ratio of requests/s these costs allow. Run by hand:
//   ptp-bench-evidence_floor [--body-bytes N] [--gm] [--off-us US] [--records N] [--dir DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/version.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/message_records.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "trust/digest.h"
#include "trust/merkle.h"
#include "trust/message_evidence.h"
#include "trust/node_key.h"

using namespace ptp;

namespace {

double cpu_now_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Microseconds of CPU per call of `f`, over enough calls for about 0.3 s (median of 3).
double us_per_call(const std::function<void()>& f) {
  uint64_t n = 1;
  for (;;) {  // find a count that takes about 0.1 s
    const double t0 = cpu_now_s();
    for (uint64_t i = 0; i < n; ++i) f();
    if (cpu_now_s() - t0 > 0.1) break;
    n *= 2;
  }
  std::vector<double> runs;
  for (int r = 0; r < 3; ++r) {
    const double t0 = cpu_now_s();
    for (uint64_t i = 0; i < n; ++i) f();
    runs.push_back((cpu_now_s() - t0) * 1e6 / static_cast<double>(n));
  }
  std::sort(runs.begin(), runs.end());
  return runs[1];
}

MessageFields sample_message(size_t body_bytes, const std::string& body_digest, uint64_t i) {
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = "A";
  m.target_node = "B";
  m.session = "bench";
  m.trace = digest_hex(digest(DigestAlgorithm::kSha256, std::to_string(i))).substr(0, 32);
  m.uri = "ptp/echo";
  m.body_size = body_bytes;
  m.body_digest = body_digest;
  m.sent_ms = 1796530651115 + static_cast<int64_t>(i);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-evidence_floor")) return 0;
  size_t body_bytes = 1024;
  bool gm = false;
  double off_us = 0;
  uint64_t records = 200000;
  std::string dir = (std::filesystem::temp_directory_path() / "ptp-evidence-floor").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--body-bytes")
      body_bytes = std::stoull(next());
    else if (a == "--gm")
      gm = true;
    else if (a == "--off-us")
      off_us = std::stod(next());
    else if (a == "--records")
      records = std::stoull(next());
    else if (a == "--dir")
      dir = next();
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const DigestAlgorithm alg = gm ? DigestAlgorithm::kSm3 : DigestAlgorithm::kSha256;
  std::string error;
  auto key = NodeKey::generate(gm ? KeyAlgorithm::kSm2 : KeyAlgorithm::kEcdsaP256, error);
  auto pub = key ? key->public_key(error) : std::nullopt;
  if (!key || !pub) {
    std::fprintf(stderr, "key: %s\n", error.c_str());
    return 1;
  }
  Hasher h(alg);
  const std::string body(body_bytes, 'x');
  const std::string body_hex = digest_hex(digest(alg, body));
  uint64_t i = 0;
  const MessageFields m = sample_message(body_bytes, body_hex, 7);
  const std::string msg_hex = digest_hex(message_leaf(h, m));

  const double body_us = us_per_call([&] {
    h.update(body);
    (void)h.finish();
  });
  const double leaf_us = us_per_call([&] { (void)message_leaf(h, m); });
  ReceiptValue rv;
  rv.msg = msg_hex;
  rv.received_ms = m.sent_ms + 1;
  rv.code = "E0000000000";
  const double receipt_us = us_per_call([&] { (void)receipt_leaf(h, rv); });
  // A batch's tree, per leaf (256 leaves: the leaf hashes and the levels above them).
  std::vector<Digest32> leaves(256);
  for (auto& l : leaves) l = merkle_leaf_hash(h, digest(alg, std::to_string(++i)));
  const double tree_us = us_per_call([&] {
                           std::vector<Digest32> hashed;
                           hashed.reserve(leaves.size());
                           for (const auto& l : leaves) hashed.push_back(merkle_leaf_hash(h, l));
                           (void)merkle_levels(h, std::move(hashed));
                         }) /
                         static_cast<double>(leaves.size());
  const std::string text = batch_text("A", "3f9c1b2a77d0-42", 36, leaves[0]);
  std::string sig;
  const double sign_us = us_per_call([&] { sig = key->sign(text); });
  const double verify_us = us_per_call([&] {
    if (!pub->verify(text, sig)) std::abort();
  });

  // Records: `sent` records as the sender writes them (with the answer's status and a
  // reference receipt), through the real log; CPU of this thread and the writer.
  std::filesystem::remove_all(dir);
  double record_us = 0;
  {
    JsonLog log(LogLevel::kWarn);
    Metrics metrics;
    EvidenceConfig cfg;
    cfg.enabled = true;
    cfg.dir = dir;
    auto ev = EvidenceLog::open(cfg, alg, nullptr, log, metrics, error);
    if (!ev) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::vector<MessageFields> ms;
    for (uint64_t k = 0; k < 1024; ++k) ms.push_back(sample_message(body_bytes, body_hex, k));
    std::vector<Digest32> leaf_of;
    for (const auto& x : ms) leaf_of.push_back(message_leaf(h, x));
    const double t0 = cpu_now_s();
    for (uint64_t k = 0; k < records; ++k) {
      const auto& x = ms[k % ms.size()];
      const std::string hex = digest_hex(leaf_of[k % ms.size()]);
      const std::string ref =
          "v3;" + std::to_string(x.sent_ms) + ";A;3f9c1b2a77d0-42;36;" + std::to_string(k % 36);
      const std::string receipt = "v3;" + hex + ";" + std::to_string(x.sent_ms + 1) +
                                  ";E0000000000;B;b81f7653b516-11;36;" + std::to_string(k % 36);
      while (!record_sent_answered(ev.get(), x, leaf_of[k % ms.size()], ref, "E0000000000", receipt,
                                   ""))
        std::this_thread::yield();  // a full queue: let the writer catch up
    }
    ev->flush();
    record_us = (cpu_now_s() - t0) * 1e6 / static_cast<double>(records);
  }
  std::filesystem::remove_all(dir);

  std::printf("%s, %zu-byte bodies; CPU per operation, one thread (records: appender + writer)\n",
              gm ? "gm (SM3, SM2)" : "SHA-256, ECDSA P-256", body_bytes);
  std::printf(
      "  body digest %.2f us, message leaf %.2f us, receipt leaf %.2f us, tree %.2f us per leaf\n",
      body_us, leaf_us, receipt_us, tree_us);
  std::printf("  batch signature %.1f us, its check %.1f us, one record %.2f us\n", sign_us,
              verify_us, record_us);
  const double per_message = 2 * (body_us + leaf_us + receipt_us + tree_us + record_us);
  std::printf("per request, A and B together: %.2f us per message + %.1f us per batch pair\n",
              per_message, 2 * (sign_us + verify_us));
  for (int n : {16, 36, 64, 128, 256}) {
    const double floor_us = per_message + 2 * (sign_us + verify_us) / n;
    std::printf("  batches of %3d: %.2f us", n, floor_us);
    if (off_us > 0) std::printf("  -> on/off at most %.3f", off_us / (off_us + floor_us));
    std::printf("\n");
  }
  if (off_us > 0)
    std::printf("(0.9x allows %.2f us more than the %.1f us of CPU per request without evidence)\n",
                off_us / 0.9 - off_us, off_us);
  return 0;
}
