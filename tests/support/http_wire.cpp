#include "support/http_wire.hpp"

#include <algorithm>
#include <cctype>

namespace hopgate::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

} // namespace

std::string header_of(const std::string& head, const std::string& name) {
  auto l = lower(head);
  auto key = "\r\n" + lower(name) + ":";
  auto p = l.find(key);
  if (p == std::string::npos) return {};
  p += key.size();
  auto e = head.find("\r\n", p);
  auto v = head.substr(p, e - p);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

std::optional<HttpResponse> read_http_response(const Fd& fd, bool no_body, std::chrono::milliseconds timeout) {
  HttpResponse r;
  while (!r.head.ends_with("\r\n\r\n")) {
    auto b = recv_exact(fd, 1, timeout);
    if (!b) return std::nullopt;
    r.head.push_back(static_cast<char>((*b)[0]));
    if (r.head.size() > (1u << 20)) return std::nullopt;
  }
  if (r.head.size() < 12 || !r.head.starts_with("HTTP/")) return std::nullopt;
  r.status = std::stoi(r.head.substr(9, 3));
  if (no_body || r.status / 100 == 1 || r.status == 204 || r.status == 304) return r;
  if (auto cl = header_of(r.head, "Content-Length"); !cl.empty()) {
    if (auto n = std::stoull(cl)) {
      auto b = recv_exact(fd, n, timeout);
      if (!b) return std::nullopt;
      r.body.assign(b->begin(), b->end());
    }
    return r;
  }
  if (lower(header_of(r.head, "Transfer-Encoding")) == "chunked") {
    for (;;) {
      std::string line;
      while (!line.ends_with("\r\n")) {
        auto b = recv_exact(fd, 1, timeout);
        if (!b) return std::nullopt;
        line.push_back(static_cast<char>((*b)[0]));
      }
      auto size = std::stoull(line, nullptr, 16);
      auto b = recv_exact(fd, size + 2, timeout);
      if (!b) return std::nullopt;
      if (size == 0) return r;
      r.body.append(b->begin(), b->begin() + static_cast<std::ptrdiff_t>(size));
    }
  }
  auto rest = recv_until_close(fd, timeout);
  r.body.assign(rest.data.begin(), rest.data.end());
  return r;
}

} // namespace hopgate::test
