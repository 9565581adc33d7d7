// What an acceptor does when accept() fails for want of file descriptors (EMFILE, ENFILE):
// the pending connection stays in the backlog and the socket stays readable, so retrying
// at once spins a core. One spare descriptor is kept open; on such a failure it is closed,
// one pending connection is accepted and closed with it (the client sees the refusal
// instead of waiting), the spare is reopened and the accept loop pauses for a moment.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>

namespace ptp {

class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kPause{100};

  AcceptBackoff();
  ~AcceptBackoff();
  AcceptBackoff(const AcceptBackoff&) = delete;
  AcceptBackoff& operator=(const AcceptBackoff&) = delete;

  // True for the errors that mean "out of file descriptors".
  static bool out_of_descriptors(const boost::system::error_code& ec);
  // Sheds one pending connection of the listening socket `listen_fd` through the spare
  // descriptor. The caller then waits kPause before accepting again.
  void shed_one(int listen_fd);

 private:
  int spare_ = -1;
};

}  // namespace ptp
