#include "hopgate/core/fd_reserve.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace hopgate {

FdReserve::FdReserve() { restore(); }

FdReserve::~FdReserve() { release(); }

void FdReserve::release() {
  std::lock_guard lock(mutex_);
  for (int& fd : fds_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

bool FdReserve::restore() {
  std::lock_guard lock(mutex_);
  if (fds_[0] >= 0) return true;
  return ::pipe2(fds_, O_CLOEXEC) == 0 || (fds_[0] = fds_[1] = -1, false);
}

} // namespace hopgate
