// The JSON log line format: every line one valid JSON object with time, level and msg, whatever
// bytes the message holds.
#include "hopgate/cli/log_format.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <spdlog/details/log_msg.h>

namespace hopgate::cli {
namespace {

std::string format_line(std::string_view payload, spdlog::level::level_enum level = spdlog::level::info) {
  spdlog::details::log_msg msg("hopgate", level, spdlog::string_view_t(payload.data(), payload.size()));
  JsonLogFormatter f;
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(CliJsonLog, OneObjectPerLine) {
  auto line = format_line("listening http 127.0.0.1:8118");
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 3u);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "listening http 127.0.0.1:8118");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["time"];
}

TEST(CliJsonLog, LevelNamesMatchTheConfig) {
  using L = spdlog::level::level_enum;
  std::vector<std::pair<L, std::string>> cases{{L::trace, "trace"}, {L::debug, "debug"}, {L::info, "info"},
                                               {L::warn, "warn"},   {L::err, "error"},   {L::critical, "critical"}};
  for (auto& [l, name] : cases) EXPECT_EQ(nlohmann::json::parse(format_line("x", l))["level"], name);
}

TEST(CliJsonLog, EscapesEverythingAwkward) {
  std::string nasty = "quote\" back\\slash\nnew\rline\ttab \x01\x1f\x7f end";
  auto j = nlohmann::json::parse(format_line(nasty));
  EXPECT_EQ(j["msg"], nasty);
  auto line = format_line(nasty);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "no raw newline inside the line";
}

TEST(CliJsonLog, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(nlohmann::json::parse(format_line("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"))["msg"],
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  // Lone continuation, truncated sequence, overlong, surrogate, beyond U+10FFFF, 0xFF.
  for (std::string bad : {std::string("a\x80z"), std::string("a\xc3"), std::string("a\xc0\xafz"), std::string("a\xed\xa0\x80z"),
                          std::string("a\xf4\x90\x80\x80z"), std::string("a\xffz")}) {
    auto line = format_line(bad);
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
    EXPECT_NE(j["msg"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos);
  }
}

TEST(CliJsonLog, EveryByteStillParses) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(format_line(all)));
  EXPECT_EQ(j["msg"].get<std::string>().substr(0, 128), all.substr(0, 128));
}

TEST(CliJsonLog, AppendEscaped) {
  std::string out = "\"";
  append_json_escaped(out, "a\"b");
  out += "\"";
  EXPECT_EQ(nlohmann::json::parse(out), "a\"b");
}

TEST(CliLogFormat, FactoryAndClone) {
  auto json_f = make_log_formatter("json");
  ASSERT_NE(dynamic_cast<JsonLogFormatter*>(json_f.get()), nullptr);
  EXPECT_NE(dynamic_cast<JsonLogFormatter*>(json_f->clone().get()), nullptr);
  auto text_f = make_log_formatter("text");
  EXPECT_EQ(dynamic_cast<JsonLogFormatter*>(text_f.get()), nullptr);
  spdlog::details::log_msg msg("hopgate", spdlog::level::info, "hello");
  spdlog::memory_buf_t buf;
  text_f->format(msg, buf);
  std::string line(buf.data(), buf.size());
  EXPECT_NE(line.find("info hello"), std::string::npos) << line;
}

} // namespace
} // namespace hopgate::cli
