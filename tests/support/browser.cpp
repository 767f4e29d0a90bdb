#include "support/browser.hpp"

#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <csignal>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace hopgate::test {

std::string chromium_dump_dom(const std::string& url, const std::vector<std::string>& extra_flags,
                              std::chrono::seconds timeout) {
  auto chromium = require_tool(std::vector<std::string>{"chromium", "chromium-browser"}, "chromium");
  TempDir profile("hopgate-chromium");
  // The flags the machine's notes name for a closed network: no background fetches to Google, no
  // QUIC, no sandbox (root), no GPU. The virtual time budget lets the page's fetches finish.
  std::vector<std::string> argv{chromium,
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--disable-quic",
                                "--no-first-run",
                                "--disable-background-networking",
                                "--disable-component-update",
                                "--disable-sync",
                                "--disable-extensions",
                                "--user-data-dir=" + profile.path().string(),
                                "--virtual-time-budget=15000"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  argv.push_back("--dump-dom");
  argv.push_back(url);
  ChildProcess browser(argv);
  auto status = browser.wait(timeout);
  if (!status) {
    browser.stop(SIGKILL);
    throw std::runtime_error("chromium did not finish within " + std::to_string(timeout.count()) + " s: " + browser.output());
  }
  return browser.output();
}

std::string element_text(const std::string& dom, const std::string& id) {
  auto open = dom.find("id=\"" + id + "\"");
  if (open == std::string::npos) return {};
  auto start = dom.find('>', open);
  if (start == std::string::npos) return {};
  auto end = dom.find("</", start);
  std::string raw = dom.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    bool decoded = false;
    for (auto [entity, ch] : {std::pair{"&amp;", '&'}, std::pair{"&lt;", '<'}, std::pair{"&gt;", '>'}, std::pair{"&quot;", '"'}}) {
      std::string_view e(entity);
      if (raw.compare(i, e.size(), e) == 0) {
        out += ch;
        i += e.size() - 1;
        decoded = true;
        break;
      }
    }
    if (!decoded) out += raw[i];
  }
  return out;
}

} // namespace hopgate::test
