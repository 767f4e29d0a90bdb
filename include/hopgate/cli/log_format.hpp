#pragma once
// Log line formats: "text" (a human pattern) and "json" (one object per line for log shippers:
// {"time":"2024-05-01T12:00:00.123Z","level":"info","msg":"..."}; always valid JSON, also when a
// message carries control characters or bytes that are not UTF-8).
#include <memory>
#include <spdlog/formatter.h>
#include <string>
#include <string_view>

namespace hopgate::cli {

/// Appends `text` to `out` as the inside of a JSON string: quotes, backslashes and control
/// characters escaped; bytes that are not valid UTF-8 replaced by U+FFFD.
void append_json_escaped(std::string& out, std::string_view text);

/// One JSON object per record: time (UTC, RFC 3339 with milliseconds), level, msg.
class JsonLogFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

/// The formatter for log.format: "json" gives JsonLogFormatter, anything else the text pattern.
std::unique_ptr<spdlog::formatter> make_log_formatter(std::string_view format);

} // namespace hopgate::cli
