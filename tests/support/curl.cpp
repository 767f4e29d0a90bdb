#include "support/curl.hpp"

#include "support/tools.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace hopgate::test {

std::string CurlResult::describe() const {
  return command + " -> exit " + std::to_string(exit_code) + (err.empty() ? "" : ": " + err);
}

namespace {

const char* const kProxyVars[] = {"http_proxy",  "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                  "ALL_PROXY",   "no_proxy",   "NO_PROXY",    "ftp_proxy",   "FTP_PROXY",
                                  "socks_proxy", "SOCKS_PROXY", "CURL_HOME"};

bool is_proxy_var(const std::string& kv) {
  std::string key = kv.substr(0, kv.find('='));
  for (const char* v : kProxyVars)
    if (key == v) return true;
  return false;
}

} // namespace

CurlResult run_curl_stream(const std::vector<std::string>& args, std::chrono::seconds timeout,
                           const std::function<void(std::span<const std::uint8_t>)>& on_body) {
  std::string curl = require_tool("curl", "curl");
  std::vector<std::string> argv = {curl, "-q", "--silent", "--show-error", "--max-time",
                                   std::to_string(timeout.count())};
  argv.insert(argv.end(), args.begin(), args.end());

  CurlResult res;
  for (auto& a : argv) res.command += (res.command.empty() ? "" : " ") + a;

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e)
    if (!is_proxy_var(*e)) env_store.emplace_back(*e);
  std::vector<char*> cenv;
  for (auto& e : env_store) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
#ifdef SYS_close_range
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
#endif
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (null_fd >= 0) ::close(null_fd);

  // curl enforces --max-time itself; this is the backstop for a hung curl.
  auto deadline = std::chrono::steady_clock::now() + timeout + 10s;
  std::vector<std::uint8_t> buf(256 * 1024);
  bool out_open = true, err_open = true, killed = false;
  while (out_open || err_open) {
    pollfd fds[2];
    int nfds = 0;
    if (out_open) fds[nfds++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[nfds++] = {err_pipe[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int r = ::poll(fds, nfds, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    for (int i = 0; i < nfds; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      bool is_out = fds[i].fd == out_pipe[0];
      if (n <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      if (is_out)
        on_body(std::span<const std::uint8_t>(buf.data(), static_cast<size_t>(n)));
      else
        res.err.append(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n));
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  res.exit_code = (!killed && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  if (killed) res.err += "[test harness: curl killed after " + std::to_string(timeout.count() + 10) + " s]";
  while (!res.err.empty() && (res.err.back() == '\n' || res.err.back() == '\r')) res.err.pop_back();
  return res;
}

CurlResult run_curl(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::string body;
  auto res = run_curl_stream(args, timeout, [&](std::span<const std::uint8_t> piece) {
    body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  });
  res.out = std::move(body);
  return res;
}

} // namespace hopgate::test
