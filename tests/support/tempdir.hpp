#pragma once
// A private temporary directory, removed with its contents when the object dies.
#include <filesystem>
#include <string>
#include <string_view>

namespace hopgate::test {

class TempDir {
public:
  explicit TempDir(std::string_view prefix = "hopgate-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::filesystem::path write_file(const std::string& name, std::string_view content) const;

private:
  std::filesystem::path path_;
};

/// Reads a whole file as text ("" when it cannot be opened).
std::string read_text_file(const std::filesystem::path& p);

} // namespace hopgate::test
