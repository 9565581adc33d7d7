#include "gateway/evidence/batch_signer.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "codecs/base64.h"
#include "common/random_hex.h"
#include "trust/merkle.h"
#include "trust/message_evidence.h"

namespace ptp {

BatchSigner::BatchSigner(boost::asio::any_io_executor ex)
    : timer_(ex), prefix_(random_hex(6)), alive_(std::make_shared<bool>(true)) {}

BatchSigner::~BatchSigner() { *alive_ = false; }

Hasher& BatchSigner::hasher(DigestAlgorithm alg) {
  if (hasher_.algorithm() != alg) hasher_ = Hasher(alg);
  return hasher_;
}

void BatchSigner::add(const std::shared_ptr<const NodeKey>& key, const std::string& node,
                      DigestAlgorithm alg, const Digest32& leaf, std::chrono::microseconds window,
                      size_t max, Done done) {
  add_leaf(
      key, node, alg, leaf, window, max,
      [done = std::move(done)](std::string_view proof, const Statement&) { done(proof); }, false);
}

void BatchSigner::add_referenced(const std::shared_ptr<const NodeKey>& key, const std::string& node,
                                 DigestAlgorithm alg, const Digest32& leaf,
                                 std::chrono::microseconds window, size_t max, ReferencedDone done,
                                 bool referenced) {
  add_leaf(key, node, alg, leaf, window, max, std::move(done), referenced);
}

void BatchSigner::add_leaf(const std::shared_ptr<const NodeKey>& key, const std::string& node,
                           DigestAlgorithm alg, const Digest32& leaf,
                           std::chrono::microseconds window, size_t max, ReferencedDone done,
                           bool referenced) {
  if (!leaves_.empty() && (key_ != key || node_ != node || alg_ != alg)) sign();
  if (leaves_.empty()) {
    key_ = key;
    node_ = node;
    alg_ = alg;
    const uint64_t gen = ++generation_;
    if (window.count() == 0) {
      // No window: the batch is what this thread's current turn of the event loop adds
      // (every request already read): signed after the handlers queued before it.
      post_sign();
    } else {
      timer_.expires_after(window);
      timer_.async_wait([this, gen, alive = alive_](boost::system::error_code ec) {
        if (ec || !*alive || gen != generation_) return;
        sign();
      });
    }
  }
  leaves_.push_back(leaf);
  done_.push_back(std::move(done));
  referenced_.push_back(referenced);
  if (leaves_.size() >= max) sign();
}

void BatchSigner::flush() {
  if (!leaves_.empty()) sign();
}

void BatchSigner::sign_soon() {
  if (!leaves_.empty()) post_sign();
}

void BatchSigner::post_sign() {
  const uint64_t gen = generation_;
  if (posted_ == gen) return;  // one post per batch
  posted_ = gen;
  boost::asio::post(timer_.get_executor(), [this, gen, alive = alive_] {
    if (*alive && gen == generation_) sign();
  });
}

void BatchSigner::sign() {
  ++generation_;  // the timer of this batch, if still pending, does nothing
  std::vector<Digest32> leaves = std::move(leaves_);
  std::vector<ReferencedDone> done = std::move(done_);
  std::vector<bool> referenced = std::move(referenced_);
  leaves_.clear();
  done_.clear();
  referenced_.clear();
  if (leaves.empty()) return;
  const auto n = static_cast<uint32_t>(leaves.size());
  Hasher& h = hasher(alg_);
  // A statement for the references: the digests as they are (before the leaf hashes).
  const bool with_statement =
      n <= kMaxStatementLeaves &&
      std::find(referenced.begin(), referenced.end(), true) != referenced.end();
  std::vector<Digest32> digests;
  if (with_statement) digests = leaves;
  for (auto& l : leaves) l = merkle_leaf_hash(h, l);
  auto levels = merkle_levels(h, std::move(leaves));
  const std::string batch_id = prefix_ + "-" + std::to_string(++batches_);
  std::string sig = key_ ? key_->sign(batch_text(node_, batch_id, n, levels.back().at(0))) : "";
  if (sig.empty()) {
    for (auto& d : done) d({}, nullptr);
    return;
  }
  const std::string sig_b64 = base64url_encode(sig);
  Statement statement;
  if (with_statement) {
    statement =
        std::make_shared<const std::string>(statement_value(node_, batch_id, digests, sig_b64));
    if (statement_hook_) statement_hook_(*statement);
  }
  std::string proof;
  for (uint32_t i = 0; i < n; ++i) {
    proof.clear();
    if (with_statement && referenced[i]) {
      append_batch_reference(proof, node_, batch_id, n, i);
      done[i](proof, statement);
    } else {
      append_batch_proof(proof, node_, batch_id, n, i, merkle_path(levels, i), sig_b64);
      done[i](proof, nullptr);
    }
  }
}

}  // namespace ptp
