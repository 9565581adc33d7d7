// The HPACK table between gateways holds the largest batch statement: nghttp2's encoder
// indexes an entry of at most 3/4 of the table, and a statement that is not indexed would go
// out whole with every message of its batch.
#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "gateway/http/h2_connection.h"
#include "trust/batch_statement.h"

namespace ptp {

TEST_CASE("peer header table: the largest statement is indexable") {
  const std::vector<Digest32> leaves(kMaxStatementLeaves);
  const std::string id(64, 'n');   // the longest node and batch ids
  const std::string sig(80, 's');  // above any DER ECDSA or SM2 signature of 72 bytes
  const std::string value = statement_value(id, id, leaves, base64url_encode(sig));
  CHECK(value.size() <= kMaxStatementValueBytes);
  // RFC 7541 4.1: an entry's size is its name, its value and 32.
  const size_t entry = kStatementHeader.size() + value.size() + 32;
  CHECK(entry <= kPeerHeaderTableBytes * 3 / 4);
}

}  // namespace ptp
