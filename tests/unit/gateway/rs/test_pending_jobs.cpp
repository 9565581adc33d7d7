// PendingJobs (gateway/rs/pending_jobs.h): what the router server keeps of jobs without a
// thread stays bounded however many job ids a peer makes up.
#include <doctest/doctest.h>

#include "gateway/rs/pending_jobs.h"

using namespace ptp;

TEST_CASE("pending jobs: refusals before a job runs are counted per job and taken once") {
  PendingJobs p(4, 4);
  p.refused("j1", "first");
  p.refused("j1", "second");
  p.refused("j2", "other");
  auto r = p.take_refusals("j1");
  CHECK(r.count == 2);
  CHECK(r.last == "second");
  CHECK(p.take_refusals("j1").count == 0);  // taken over by the job
  CHECK(p.take_refusals("j2").count == 1);
  CHECK(p.refused_jobs() == 0);
}

TEST_CASE("pending jobs: refusals of many job ids keep only the newest") {
  PendingJobs p(3, 4);
  for (int i = 0; i < 300; ++i) p.refused("bogus-" + std::to_string(i), "why");
  CHECK(p.refused_jobs() == 3);
  CHECK(p.take_refusals("bogus-0").count == 0);
  CHECK(p.take_refusals("bogus-299").count == 1);
  p.refused("again", "why");  // taking one left room and the order consistent
  CHECK(p.refused_jobs() == 3);
  p.refused("more", "why");
  CHECK(p.refused_jobs() == 3);
  CHECK(p.take_refusals("bogus-297").count == 0);  // the oldest left
  CHECK(p.take_refusals("more").count == 1);
}

TEST_CASE("pending jobs: deferred jobs come back once each, oldest first, bounded") {
  PendingJobs p(4, 2);
  CHECK(p.defer({"RA", "j1", "rs.job"}));
  CHECK_FALSE(p.defer({"RA", "j1", "rs.share.1"}));  // already deferred
  CHECK(p.defer({"RA", "j2", "rs.job"}));
  CHECK_FALSE(p.defer({"RA", "j3", "rs.job"}));  // full: j3 starts on its next message
  CHECK(p.deferred() == 2);
  auto k = p.next_deferred();
  REQUIRE(k);
  CHECK(k->session == "j1");
  CHECK(p.defer({"RA", "j1", "rs.job"}));  // may be deferred again
  CHECK(p.next_deferred()->session == "j2");
  CHECK(p.next_deferred()->session == "j1");
  CHECK_FALSE(p.next_deferred());
}
