// The JSON line format is written by hand rather than through nlohmann::json: a log line is built
// on every connection close, and escaping straight into spdlog's buffer avoids a DOM per line.
#include "hopgate/cli/log_format.hpp"

#include <chrono>
#include <ctime>
#include <spdlog/pattern_formatter.h>

namespace hopgate::cli {

namespace {

/// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0; // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0; // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0; // overlong
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0; // beyond U+10FFFF
    return 4;
  }
  return 0;
}

template <class Out> void escape_into(Out& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  auto put = [&](std::string_view s) { out.append(s.data(), s.data() + s.size()); };
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
    case '"': put("\\\""); ++i; continue;
    case '\\': put("\\\\"); ++i; continue;
    case '\n': put("\\n"); ++i; continue;
    case '\r': put("\\r"); ++i; continue;
    case '\t': put("\\t"); ++i; continue;
    default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      put(std::string_view(u, 6));
      ++i;
      continue;
    }
    auto n = utf8_length(text, i);
    if (n == 0) {
      put("\\ufffd");
      ++i;
      continue;
    }
    put(text.substr(i, n));
    i += n;
  }
}

/// The level names of the config file ("warn", not spdlog's "warning").
std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
  case spdlog::level::trace: return "trace";
  case spdlog::level::debug: return "debug";
  case spdlog::level::info: return "info";
  case spdlog::level::warn: return "warn";
  case spdlog::level::err: return "error";
  case spdlog::level::critical: return "critical";
  default: return "off";
  }
}

} // namespace

void append_json_escaped(std::string& out, std::string_view text) { escape_into(out, text); }

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  auto since_epoch = msg.time.time_since_epoch();
  auto secs = duration_cast<seconds>(since_epoch);
  auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
  std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  n += static_cast<std::size_t>(std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(millis)));

  auto put = [&](std::string_view s) { dest.append(s.data(), s.data() + s.size()); };
  put("{\"time\":\"");
  put(std::string_view(stamp, n));
  put("\",\"level\":\"");
  put(level_name(msg.level));
  put("\",\"msg\":\"");
  escape_into(dest, std::string_view(msg.payload.data(), msg.payload.size()));
  put("\"}\n");
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const { return std::make_unique<JsonLogFormatter>(); }

std::unique_ptr<spdlog::formatter> make_log_formatter(std::string_view format) {
  if (format == "json") return std::make_unique<JsonLogFormatter>();
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

} // namespace hopgate::cli
