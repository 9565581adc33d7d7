#include "common/accept_backoff.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ptp {

namespace {
int open_spare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
}  // namespace

AcceptBackoff::AcceptBackoff() : spare_(open_spare()) {}

AcceptBackoff::~AcceptBackoff() {
  if (spare_ >= 0) ::close(spare_);
}

bool AcceptBackoff::out_of_descriptors(const boost::system::error_code& ec) {
  return ec.category() == boost::system::system_category() &&
         (ec.value() == EMFILE || ec.value() == ENFILE);
}

void AcceptBackoff::shed_one(int listen_fd) {
  if (spare_ >= 0) {
    ::close(spare_);
    spare_ = -1;
  }
  // Non-blocking: with nothing pending it returns EAGAIN at once.
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) ::close(fd);
  spare_ = open_spare();  // may fail while descriptors are short; retried next time
}

}  // namespace ptp
