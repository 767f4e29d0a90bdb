#include "support/process.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace hopgate::test {

bool ExitStatus::exited() const { return WIFEXITED(raw); }
int ExitStatus::exit_code() const { return WEXITSTATUS(raw); }
bool ExitStatus::signaled() const { return WIFSIGNALED(raw); }
int ExitStatus::signal() const { return WTERMSIG(raw); }

std::string ExitStatus::describe() const {
  if (exited()) return "exit " + std::to_string(exit_code());
  if (signaled()) {
    const char* name = ::strsignal(signal());
    return "signal " + std::to_string(signal()) + " (" + (name ? name : "?") + ")";
  }
  return "wait status " + std::to_string(raw);
}

namespace {

void close_fds_from(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = first; fd < max; ++fd) ::close(fd);
}

} // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, SpawnOptions options) : argv_(std::move(argv)) {
  if (argv_.empty()) throw std::invalid_argument("ChildProcess: empty argv");
  log_path_ = dir_.path() / "output.log";
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_path_.string() + ": " + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  // Everything the child needs is prepared before fork(): after it only async-signal-safe calls.
  std::vector<char*> cargv;
  for (auto& a : argv_) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    bool drop = options.env.count(key) > 0;
    for (auto& u : options.unset_env) drop = drop || (u == key);
    if (!drop) env_store.push_back(std::move(kv));
  }
  for (auto& [k, v] : options.env) env_store.push_back(k + "=" + v);
  std::vector<char*> cenv;
  for (auto& e : env_store) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::string cwd = options.cwd.string();

  // execvpe is a GNU extension; search PATH ourselves to stay with plain execve.
  std::vector<std::string> candidates;
  if (argv_[0].find('/') != std::string::npos) {
    candidates.push_back(argv_[0]);
  } else {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    p += ":/usr/sbin:/sbin";
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      std::string dir = p.substr(start, end - start);
      if (!dir.empty()) candidates.push_back(dir + "/" + argv_[0]);
      start = end + 1;
    }
  }
  std::vector<const char*> ccand;
  for (auto& c : candidates) ccand.push_back(c.c_str());

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Child. Die with the test process so that a crashed test leaves nothing behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    close_fds_from(3);
    // Reset signal handling inherited from the test process.
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      const char msg[] = "ChildProcess: chdir failed\n";
      [[maybe_unused]] auto r = ::write(2, msg, sizeof msg - 1);
      ::_exit(127);
    }
    for (const char* c : ccand) {
      ::execve(c, cargv.data(), cenv.data());
    }
    const char msg[] = "ChildProcess: exec failed: ";
    [[maybe_unused]] auto r1 = ::write(2, msg, sizeof msg - 1);
    [[maybe_unused]] auto r2 = ::write(2, cargv[0], std::strlen(cargv[0]));
    [[maybe_unused]] auto r3 = ::write(2, "\n", 1);
    ::_exit(127);
  }
  pid_ = pid;
  ::close(log_fd);
  if (null_fd >= 0) ::close(null_fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) stop(SIGTERM, 5s);
}

std::string ChildProcess::command_line() const {
  std::string s;
  for (auto& a : argv_) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

bool ChildProcess::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = ExitStatus{st};
    return false;
  }
  return true;
}

std::string ChildProcess::output() const { return read_text_file(log_path_); }

std::optional<std::vector<std::string>> ChildProcess::wait_for_output(const std::regex& re,
                                                                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool alive = running();
    std::string text = output();
    std::smatch m;
    if (std::regex_search(text, m, re)) {
      std::vector<std::string> groups;
      for (auto& g : m) groups.push_back(g.str());
      return groups;
    }
    if (!alive || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

bool ChildProcess::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool alive = running();
    if (output().find(needle) != std::string::npos) return true;
    if (!alive || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

std::optional<ExitStatus> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return status_;
}

ExitStatus ChildProcess::stop(int sig, std::chrono::milliseconds timeout) {
  if (status_) return *status_;
  if (!running()) return *status_;
  ::kill(pid_, sig);
  if (auto st = wait(timeout)) return *st;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = ExitStatus{st};
  return *status_;
}

} // namespace hopgate::test
