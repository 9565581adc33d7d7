// BodyPipe's end observer: how a streamed answer ended for its consumer, told exactly once
// (the pipeline logs and counts a streamed answer by it, docs/observability.md).
#include <doctest/doctest.h>

#include <memory>
#include <optional>

#include "gateway/exchange/body_pipe.h"

namespace ptp {
namespace {

struct Ends {
  int calls = 0;
  std::optional<Status> last;
  uint64_t taken = 0;
  BodyPipe::EndObserver observer() {
    return [this](const Status& st, uint64_t n) {
      ++calls;
      last = st;
      taken = n;
    };
  }
};

TEST_CASE("body pipe: the consumer's end is told once, with the bytes it took") {
  Ends ends;
  {
    BodyPipe p;
    p.set_on_end(ends.observer());
    p.write("hello");
    p.write("world");
    char buf[4];
    CHECK(p.read(buf, sizeof buf) == 4);
    std::string chunk;
    CHECK(p.read_chunk(chunk));
    p.finish();
    p.end(Status::Ok());
    p.end(Status::Error(Code::kUnreachable, "late"));  // only the first counts
    p.cancel();                                        // nor does a cancel after it
  }
  CHECK(ends.calls == 1);
  CHECK(ends.last->ok());
  CHECK(ends.taken == 5);  // "hell" + "o"
}

TEST_CASE("body pipe: a cancel without an end tells the producer's failure or the client's") {
  Ends failed;
  {
    BodyPipe p;
    p.set_on_end(failed.observer());
    p.finish(Status::Error(Code::kBadCertSignature, "signature does not match"));
    p.cancel();
  }
  CHECK(failed.calls == 1);
  CHECK(failed.last->code == Code::kBadCertSignature);

  Ends gone;
  {
    BodyPipe p;
    p.set_on_end(gone.observer());
    p.write("x");
    p.cancel();
  }
  CHECK(gone.calls == 1);
  CHECK(gone.last->code == Code::kUnreachable);
}

TEST_CASE("body pipe: dropped without an end, it is complete only when all was taken") {
  Ends whole, cut;
  {
    BodyPipe p;
    p.set_on_end(whole.observer());
    p.write("ab");
    std::string chunk;
    CHECK(p.read_chunk(chunk));
    p.finish();
  }
  {
    BodyPipe p;
    p.set_on_end(cut.observer());
    p.write("ab");
  }
  CHECK(whole.calls == 1);
  CHECK(whole.last->ok());
  CHECK(cut.calls == 1);
  CHECK(cut.last->code == Code::kSystemError);
}

TEST_CASE("body pipe: the bytes written are counted once and outlive the pipe") {
  std::shared_ptr<const uint64_t> written;
  {
    BodyPipe p;
    written = p.written();
    p.write("hello");
    p.write("");  // nothing
    std::string chunk;
    CHECK(p.read_chunk(chunk));  // taking them does not count them again
    p.write("world");
    p.finish();
    p.write("after the end");  // dropped: not counted
  }
  CHECK(*written == 10);
  BodyPipe cancelled;
  cancelled.write("abc");
  cancelled.cancel();
  cancelled.write("dropped");
  CHECK(*cancelled.written() == 3);
}

}  // namespace
}  // namespace ptp
