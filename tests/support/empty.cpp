// Intentionally empty translation unit. tests/CMakeLists.txt lists this file explicitly so that the
// support library always has at least one source. It must NOT define main(): the integration test
// executable links this static library before gtest_main, and an archive member defining main would
// be pulled in first and silently replace GoogleTest's runner (every test "passing" by not running).
namespace hopgate::test::detail {
[[maybe_unused]] static constexpr int empty_translation_unit = 0;
}
