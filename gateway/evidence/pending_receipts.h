// The sent messages of one I/O thread whose clients were answered before the receipt came
// (docs/evidence.md, "Receipts in trailers"). At most `limit` at a time: a receiver that
// holds its trailers back (up to the peer's timeout) cannot make the sender keep ever more
// of them, as its clients, answered at once, send on. Beyond the limit a message's client
// waits for the receipt, as it did before. Single-threaded.
#pragma once

#include <cstddef>
#include <memory>

#include "common/release_token.h"

namespace ptp {

class PendingReceipts {
 public:
  explicit PendingReceipts(size_t limit) : limit_(limit) {}

  bool room() const { return *count_ < limit_; }
  size_t count() const { return *count_; }
  // Counts one message while the returned token lives (it may outlive this object).
  std::shared_ptr<void> take() {
    ++*count_;
    return release_token([count = count_] { --*count; });
  }

 private:
  size_t limit_;
  std::shared_ptr<size_t> count_ = std::make_shared<size_t>(0);
};

}  // namespace ptp
