#include "hopgate/frontend/http_pool.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>

namespace hopgate::frontend {

HttpPool::~HttpPool() {
  *alive_ = false;
  clear();
}

std::string HttpPool::key(std::uint64_t generation, std::string_view via, std::string_view origin, std::string_view user) {
  std::string k = std::to_string(generation);
  k.append("|").append(via).append("|").append(origin).append("|").append(user);
  return k;
}

bool idle_connection_usable(tcp::socket& socket) {
  if (!socket.is_open()) return false;
  char c;
  // An idle HTTP connection has nothing to say: EOF, an error or stray bytes all mean "do not reuse".
  ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::optional<tcp::socket> HttpPool::take(const std::string& key, Clock::duration idle_timeout) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return std::nullopt;
  auto& q = it->second;
  auto now = Clock::now();
  std::optional<tcp::socket> out;
  while (!q.empty() && !out) {
    Idle entry = std::move(q.back());
    q.pop_back();
    --count_;
    if (now - entry.since <= idle_timeout && idle_connection_usable(entry.socket)) out.emplace(std::move(entry.socket));
    else {
      error_code ignored;
      entry.socket.close(ignored);
    }
  }
  if (q.empty()) idle_.erase(it);
  return out;
}

void HttpPool::put(const std::string& key, tcp::socket socket, std::size_t max_idle, Clock::duration idle_timeout) {
  error_code ignored;
  if (max_idle == 0 || !socket.is_open()) {
    socket.close(ignored);
    return;
  }
  timeout_ = idle_timeout;
  auto ex = socket.get_executor();
  auto& q = idle_[key];
  q.push_back(Idle{std::move(socket), Clock::now()});
  ++count_;
  while (q.size() > max_idle) {
    q.front().socket.close(ignored);
    q.pop_front();
    --count_;
  }
  arm(ex);
}

void HttpPool::arm(const asio::any_io_executor& ex) {
  if (armed_ || count_ == 0) return;
  if (!timer_) timer_ = std::make_unique<asio::steady_timer>(ex);
  armed_ = true;
  // Sweep at a fraction of the timeout so that nothing outstays it by much.
  auto period = std::max<Clock::duration>(timeout_ / 4, std::chrono::milliseconds(250));
  timer_->expires_after(period);
  timer_->async_wait([this, alive = alive_](error_code ec) {
    if (!*alive || ec == asio::error::operation_aborted) return;
    armed_ = false;
    sweep();
  });
}

void HttpPool::sweep() {
  auto now = Clock::now();
  error_code ignored;
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& q = it->second;
    while (!q.empty() && now - q.front().since > timeout_) {
      q.front().socket.close(ignored);
      q.pop_front();
      --count_;
    }
    if (q.empty()) it = idle_.erase(it);
    else ++it;
  }
  if (count_ > 0 && timer_) arm(timer_->get_executor());
}

std::size_t HttpPool::idle() const { return count_; }

void HttpPool::clear() {
  error_code ignored;
  for (auto& [k, q] : idle_)
    for (auto& e : q) e.socket.close(ignored);
  idle_.clear();
  count_ = 0;
  if (timer_) timer_->cancel();
  armed_ = false;
}

} // namespace hopgate::frontend
