#pragma once
// A real browser for tests: Debian's headless Chromium loading one page and printing its DOM
// once the page's scripts have run (--dump-dom with a virtual time budget, which waits for the
// page's fetches). Started with its own empty profile and stopped by PID.
#include <chrono>
#include <string>
#include <vector>

namespace hopgate::test {

/// Loads `url` in headless Chromium and returns the serialized DOM (stdout of --dump-dom).
/// `extra_flags` are added to the command line (e.g. --host-resolver-rules=...). Fails the test
/// (throws) when chromium is not installed: apt-get install chromium.
std::string chromium_dump_dom(const std::string& url, const std::vector<std::string>& extra_flags = {},
                              std::chrono::seconds timeout = std::chrono::seconds(60));

/// The text inside the element with id `id` in a dumped DOM ("" when there is none), with the
/// HTML entities &amp; &lt; &gt; &quot; decoded.
std::string element_text(const std::string& dom, const std::string& id);

} // namespace hopgate::test
