#pragma once
// Polling for what a test waits on (a log line, a counter, a closed connection) without a fixed sleep.
#include <chrono>
#include <thread>

namespace hopgate::test {

/// True as soon as `pred()` is; false if it is still false after `timeout`.
template <class Pred> bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

} // namespace hopgate::test
