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
  const std::map<std::string, size_t> none;
  using D = PendingJobs::Deferral;
  CHECK(p.defer({"RA", "j1", "rs.job"}, "H") == D::kDeferred);
  CHECK(p.defer({"RA", "j1", "rs.share.1"}, "H") == D::kAlready);  // already deferred
  CHECK(p.defer({"RA", "j2", "rs.job"}, "H") == D::kDeferred);
  CHECK(p.defer({"RA", "j3", "rs.job"}, "H") == D::kFull);  // full: j3 starts on its next message
  CHECK(p.deferred() == 2);
  auto k = p.next_deferred(none, 8);
  REQUIRE(k);
  CHECK(k->session == "j1");
  CHECK(p.defer({"RA", "j1", "rs.job"}, "H") == D::kDeferred);  // may be deferred again
  CHECK(p.next_deferred(none, 8)->session == "j2");
  CHECK(p.next_deferred(none, 8)->session == "j1");
  CHECK_FALSE(p.next_deferred(none, 8));
  CHECK_FALSE(p.has_deferred("H"));
}

TEST_CASE("pending jobs: a job source at its maximum holds back only its own deferred jobs") {
  PendingJobs p(4, 100);
  // S1 floods first, S2's jobs come after.
  for (int i = 0; i < 10; ++i) p.defer({"RA", "s1-" + std::to_string(i), "rs.job"}, "S1");
  p.defer({"RA", "s2-0", "rs.job"}, "S2");
  p.defer({"RA", "s2-1", "rs.job"}, "S2");
  CHECK(p.deferred() == 12);
  CHECK(p.has_deferred("S1"));
  // S1 runs its maximum (4): S2's jobs start, in their order, though S1's came first.
  std::map<std::string, size_t> running{{"S1", 4}};
  CHECK(p.next_deferred(running, 4)->session == "s2-0");
  running["S2"] = 1;
  CHECK(p.next_deferred(running, 4)->session == "s2-1");
  running["S2"] = 2;
  CHECK_FALSE(p.next_deferred(running, 4));  // only S1's are left, and S1 is at its maximum
  CHECK(p.deferred() == 10);
  // One of S1's jobs ended: its next deferred job, in arrival order.
  running["S1"] = 3;
  CHECK(p.next_deferred(running, 4)->session == "s1-0");
  running["S1"] = 4;
  CHECK_FALSE(p.next_deferred(running, 4));
  running["S1"] = 3;
  CHECK(p.next_deferred(running, 4)->session == "s1-1");
}

TEST_CASE("pending jobs: a free slot goes to the source running the fewest, then the oldest") {
  PendingJobs p(4, 100);
  p.defer({"RA", "a-0", "rs.job"}, "A");
  p.defer({"RA", "b-0", "rs.job"}, "B");
  p.defer({"RA", "a-1", "rs.job"}, "A");
  p.defer({"RA", "c-0", "rs.job"}, "C");
  // A runs 3, B 1, C none: C first although its job came last, then B, then A.
  std::map<std::string, size_t> running{{"A", 3}, {"B", 1}};
  CHECK(p.next_deferred(running, 8)->session == "c-0");
  running["C"] = 1;
  // B and C run one each; C has nothing deferred: B.
  CHECK(p.next_deferred(running, 8)->session == "b-0");
  running["B"] = 2;
  CHECK(p.next_deferred(running, 8)->session == "a-0");
  CHECK(p.next_deferred(running, 8)->session == "a-1");
  CHECK_FALSE(p.next_deferred(running, 8));
  // Equal running counts: the longest deferred job first.
  p.defer({"RA", "b-1", "rs.job"}, "B");
  p.defer({"RA", "a-2", "rs.job"}, "A");
  CHECK(p.next_deferred({}, 8)->session == "b-1");
  CHECK(p.next_deferred({}, 8)->session == "a-2");
}

TEST_CASE("pending jobs: the deferred jobs of one source are bounded, not those of others") {
  PendingJobs p(4, 3);
  using D = PendingJobs::Deferral;
  for (int i = 0; i < 3; ++i)
    CHECK(p.defer({"RA", "s1-" + std::to_string(i), "rs.job"}, "S1") == D::kDeferred);
  CHECK(p.defer({"RA", "s1-3", "rs.job"}, "S1") == D::kFull);
  CHECK(p.defer({"RA", "s2-0", "rs.job"}, "S2") == D::kDeferred);  // S1's flood leaves S2 room
  CHECK(p.deferred() == 4);
}
