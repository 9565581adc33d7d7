// The batch signer of one thread (docs/evidence.md, "Signatures and receipts"): statements
// (32-byte leaves: messages sent, receipts, countersigns) join the current batch; the batch
// is signed once when it holds `max` leaves or `window` after its first leaf (a window of 0:
// at the end of the event loop's current turn, i.e. once the handlers already queued ran): the node
// key signs the root of the RFC 6962 tree over the leaves (trust/message_evidence.h), and each
// leaf's callback gets its own proof (node;batch;n;index;path;signature). One signature per
// batch is what keeps signing at a fraction of a request's cost.
//
// Not thread-safe: one per I/O thread (and one for the outbox's thread); callbacks run on
// that thread, from add() (a full batch) or from the window's timer.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trust/batch_statement.h"
#include "trust/digest.h"
#include "trust/node_key.h"

namespace ptp {

class BatchSigner {
 public:
  // `proof` is the leaf's encoded batch proof; empty when signing failed.
  using Done = std::function<void(std::string_view proof)>;
  // `statement` set: `proof` is a reference into it; null: `proof` is a full proof (a batch of
  // more than kMaxStatementLeaves), or empty when signing failed.
  using Statement = std::shared_ptr<const std::string>;
  using ReferencedDone = std::function<void(std::string_view proof, const Statement& statement)>;
  // Called with each batch's statement that references were given for, before their
  // callbacks: the caller records it (the evidence log keeps what proves its references).
  using StatementHook = std::function<void(const std::string& statement)>;

  explicit BatchSigner(boost::asio::any_io_executor ex);
  ~BatchSigner();
  BatchSigner(const BatchSigner&) = delete;
  BatchSigner& operator=(const BatchSigner&) = delete;

  // Adds `leaf` (a statement digest) to the batch of (key, node, alg); a batch of another
  // key, node or digest is signed first.
  void add(const std::shared_ptr<const NodeKey>& key, const std::string& node, DigestAlgorithm alg,
           const Digest32& leaf, std::chrono::microseconds window, size_t max, Done done);
  // The same; with `referenced`, `done` gets a reference and the batch's statement (a full
  // proof and no statement for a batch too big for one, or without `referenced`).
  void add_referenced(const std::shared_ptr<const NodeKey>& key, const std::string& node,
                      DigestAlgorithm alg, const Digest32& leaf, std::chrono::microseconds window,
                      size_t max, ReferencedDone done, bool referenced = true);
  void set_statement_hook(StatementHook hook) { statement_hook_ = std::move(hook); }
  // Signs the current batch now (shutdown, tests).
  void flush();
  // Signs the current batch at the end of the event loop's current turn (after the handlers
  // already queued) instead of when its window ends: for a caller that knows no further leaf
  // is coming soon (a receiver whose every message on this thread has its receipt).
  void sign_soon();

  uint64_t batches() const { return batches_; }
  // A hasher of the batch's digest for callers on the same thread (leaf texts).
  Hasher& hasher(DigestAlgorithm alg);

 private:
  void sign();
  void add_leaf(const std::shared_ptr<const NodeKey>& key, const std::string& node,
                DigestAlgorithm alg, const Digest32& leaf, std::chrono::microseconds window,
                size_t max, ReferencedDone done, bool referenced);
  // sign() at the end of the loop's current turn, unless the batch was signed before.
  void post_sign();

  boost::asio::steady_timer timer_;
  std::string prefix_;  // random, so that batch ids of restarts never repeat
  uint64_t batches_ = 0;
  uint64_t generation_ = 0;  // of the batch the timer is for
  uint64_t posted_ = 0;      // the generation a post_sign() is pending for
  std::shared_ptr<const NodeKey> key_;
  std::string node_;
  DigestAlgorithm alg_ = DigestAlgorithm::kSha256;
  Hasher hasher_;
  std::vector<Digest32> leaves_;
  std::vector<ReferencedDone> done_;
  std::vector<bool> referenced_;  // per leaf: added with add_referenced
  StatementHook statement_hook_;
  std::shared_ptr<bool> alive_;
};

}  // namespace ptp
