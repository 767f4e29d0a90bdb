#pragma once

#include <mutex>

namespace hopgate {

/// Two descriptors held back (thread-safe) for the moment the process runs out of them.
///
/// When accept() fails with EMFILE the process has no descriptor left for anything: not for
/// the log line, not for the sanitizer runtimes (which check memory through a pipe). Releasing
/// the reserve gives those two back; the accept loop takes them again once it is past the
/// burst. The same trick as libuv's and nginx's spare descriptor, kept as a pipe because one
/// pipe2() call takes two descriptors and needs no file system.
class FdReserve {
public:
  FdReserve();
  ~FdReserve();
  FdReserve(const FdReserve&) = delete;
  FdReserve& operator=(const FdReserve&) = delete;

  /// Gives the descriptors back to the process (no-op when already released).
  void release();
  /// Takes them again; false while the process is still out of descriptors.
  bool restore();

private:
  std::mutex mutex_; ///< every worker's accept loop may release or restore
  int fds_[2] = {-1, -1};
};

} // namespace hopgate
