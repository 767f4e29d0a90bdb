#pragma once
// GET /metrics: the Prometheus text exposition format, version 0.0.4.
#include "hopgate/admin/control.hpp"
#include "hopgate/admin/sources.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hopgate::admin {

/// The Content-Type of the exposition format.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// What /proc says about this process; fields stay empty where it cannot be read.
struct ProcessInfo {
  std::optional<std::uint64_t> open_fds;
  std::optional<std::uint64_t> max_fds;
  std::optional<std::uint64_t> resident_bytes;
  std::optional<std::uint64_t> virtual_bytes;
  std::optional<double> cpu_seconds;
  std::optional<double> start_time_seconds; ///< Unix time
};
ProcessInfo read_process_info();

/// Escapes a label value: backslash, double quote and line feed.
std::string escape_label_value(std::string_view value);

/// Every hopgate metric, rendered at `now`.
std::string render_metrics(const Sources& shared, const Control& control, Clock::time_point now);

} // namespace hopgate::admin
