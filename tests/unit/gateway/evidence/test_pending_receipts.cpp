// PendingReceipts: a bounded count of answers waiting for their receipts, held by tokens.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "gateway/evidence/pending_receipts.h"

namespace ptp {
namespace {

TEST_CASE("pending receipts: room until the limit, back when a token goes") {
  PendingReceipts pending(3);
  std::vector<std::shared_ptr<void>> tokens;
  for (int i = 0; i < 3; ++i) {
    CHECK(pending.room());
    tokens.push_back(pending.take());
  }
  CHECK_FALSE(pending.room());
  CHECK(pending.count() == 3);
  auto copy = tokens[1];  // a token shared by two holders counts once, until both let go
  tokens.erase(tokens.begin() + 1);
  CHECK_FALSE(pending.room());
  copy.reset();
  CHECK(pending.room());
  CHECK(pending.count() == 2);
}

TEST_CASE("pending receipts: a token may outlive the count's owner") {
  std::shared_ptr<void> token;
  {
    PendingReceipts pending(1);
    token = pending.take();
    CHECK_FALSE(pending.room());
  }
  token.reset();  // no use of freed memory (ASan would say so)
}

}  // namespace
}  // namespace ptp
