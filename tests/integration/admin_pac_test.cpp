// GET /proxy.pac evaluated by a real JavaScript engine (Node.js) for sample URLs: DIRECT exactly
// where hopgate would go direct for sure, hopgate's proxies otherwise; the PAC follows route
// changes and takes the proxy host from the Host header.
#include "support/curl.hpp"
#include "support/hopgate_process.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

using namespace hopgate::test;
using nlohmann::json;

namespace {

/// Runs FindProxyForURL(url, host) of `pac` in Node for each case, in a bare context (none of the
/// PAC helper functions exist there, so the file must not need them).
std::vector<std::string> run_pac(const std::string& pac, const std::vector<std::pair<std::string, std::string>>& cases) {
  auto node = require_tool(std::vector<std::string>{"node", "nodejs"}, "nodejs");
  TempDir dir("hopgate-pac");
  json list = json::array();
  for (auto& [url, host] : cases) list.push_back({url, host});
  auto pac_file = dir.write_file("proxy.pac", pac);
  auto cases_file = dir.write_file("cases.json", list.dump());
  auto script = dir.write_file("run.js", R"JS(
const fs = require('fs'), vm = require('vm');
const pac = fs.readFileSync(process.argv[2], 'utf8');
const cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const sandbox = {};
vm.createContext(sandbox);
vm.runInContext(pac, sandbox, { filename: 'proxy.pac' });
const out = cases.map(([url, host]) => sandbox.FindProxyForURL(url, host));
console.log('RESULT ' + JSON.stringify(out));
)JS");
  ChildProcess proc({node, script.string(), pac_file.string(), cases_file.string()});
  auto status = proc.wait(30s);
  if (!status) proc.stop(SIGKILL);
  auto output = proc.output();
  EXPECT_TRUE(status && status->clean()) << "node failed:\n" << output << "\n--- PAC ---\n" << pac;
  auto at = output.find("RESULT ");
  if (at == std::string::npos) return {};
  auto j = json::parse(output.substr(at + 7, output.find('\n', at) - at - 7), nullptr, false);
  if (!j.is_array()) return {};
  return j.get<std::vector<std::string>>();
}

CurlResult get_pac(const HopgateProcess& hg, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"-i"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("http://" + hg.address("admin") + "/proxy.pac");
  auto r = run_curl(args);
  EXPECT_TRUE(r.ok()) << r.describe();
  return r;
}

std::string body_of(const CurlResult& r) {
  auto end = r.out.find("\r\n\r\n");
  return end == std::string::npos ? "" : r.out.substr(end + 4);
}

json config_a() {
  return json::parse(R"({
    "listeners": {
      "http": { "listen": ["127.0.0.1:0"] },
      "socks": { "listen": ["127.0.0.1:0"] },
      "admin": { "listen": ["127.0.0.1:0"] }
    },
    "users": [ { "name": "alice", "password": "pw" } ],
    "upstreams": { "tor": "socks5h://127.0.0.1:9" },
    "routes": [
      { "name": "onion", "match": { "domain": ["*.onion"] }, "via": "tor" },
      { "name": "lan", "match": { "cidr": ["10.0.0.0/8", "fd00::/8"] }, "via": "direct" },
      { "name": "ads", "match": { "domain": ["ads.example", ".tracker.example"] }, "via": "block" },
      { "name": "corp", "match": { "domain": ["*.corp.example"], "port": ["80", "443"] }, "via": "tor" },
      { "name": "cdn", "match": { "domain": ["cdn-??.example.net"] }, "via": "direct" },
      { "name": "alice", "match": { "domain": ["*.alice.example"], "user": ["alice"] }, "via": "direct" },
      { "name": "secure", "match": { "domain": [".secure.example"] }, "allow_ports": ["443"], "via": "direct" },
      { "name": "strict", "match": { "domain": ["strict.example"] }, "remote_dns": "required", "via": "direct" },
      { "name": "socksonly", "match": { "domain": ["socks-only.example"], "frontend": ["socks"] }, "via": "direct" },
      { "name": "plain", "match": { "domain": ["plain.example"] }, "via": "direct" }
    ],
    "default": { "via": "tor" }
  })");
}

} // namespace

TEST(AdminPac, NodeEvaluatesTheRoutes) {
  HopgateProcess hg(config_a());
  auto r = get_pac(hg);
  ASSERT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  ASSERT_NE(r.out.find("Content-Type: application/x-ns-proxy-autoconfig"), std::string::npos) << r.out;
  auto pac = body_of(r);
  const std::string P = "PROXY 127.0.0.1:" + std::to_string(hg.port("http")) + "; SOCKS5 127.0.0.1:" + std::to_string(hg.port("socks"));
  const std::string D = "DIRECT";

  // url, host, expected
  std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"http://foo.onion/", "foo.onion", P},
      {"http://FOO.Onion./x", "FOO.Onion.", P},
      {"http://10.1.2.3/", "10.1.2.3", D},
      {"http://10.1.2.3.example.org/", "10.1.2.3.example.org", P},
      {"http://[fd00::1]:8080/", "fd00::1", D},
      {"http://[fd00::1]/", "[fd00::1]", D},
      {"http://[2001:db8::1]/", "2001:db8::1", P},
      {"http://[::ffff:10.9.9.9]/", "::ffff:10.9.9.9", D},
      {"http://ads.example/", "ads.example", P},
      {"http://x.tracker.example/", "x.tracker.example", P},
      {"http://tracker.example/", "tracker.example", P},
      {"https://git.corp.example/", "git.corp.example", P},
      {"http://git.corp.example:8080/", "git.corp.example", P},
      {"http://cdn-01.example.net/", "cdn-01.example.net", D},
      {"http://cdn-001.example.net/", "cdn-001.example.net", P},
      {"http://www.alice.example/", "www.alice.example", P},
      {"https://www.secure.example/", "www.secure.example", D},
      {"https://secure.example/", "secure.example", D},
      {"http://www.secure.example/", "www.secure.example", P},
      {"https://www.secure.example:8443/", "www.secure.example", P},
      {"http://strict.example/", "strict.example", P},
      {"http://socks-only.example/", "socks-only.example", P},
      {"http://plain.example/", "plain.example", D},
      {"ws://plain.example:81/", "plain.example", D},
      {"http://www.plain.example/", "www.plain.example", P},
      {"http://127.0.0.1/", "127.0.0.1", P},
  };
  std::vector<std::pair<std::string, std::string>> inputs;
  for (auto& [url, host, want] : cases) inputs.push_back({url, host});
  auto got = run_pac(pac, inputs);
  ASSERT_EQ(got.size(), cases.size()) << pac;
  for (std::size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(got[i], std::get<2>(cases[i])) << std::get<0>(cases[i]) << "\n--- PAC ---\n" << (i == 0 ? pac : "");

  // The PAC never sends straight what hopgate would not send straight: for each case, a DIRECT
  // answer means hopgate's own decision (for its HTTP front end, no user) is a direct connect.
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (got[i] != D) continue;
    auto [url, host, want] = cases[i];
    std::string h = host;
    if (!h.empty() && h.front() == '[') h = h.substr(1, h.size() - 2);
    auto start = url.find("//") + 2;
    auto authority = url.substr(start, url.find('/', start) - start);
    int port = url.starts_with("https") ? 443 : 80;
    auto colon = authority.front() == '[' ? authority.find("]:") : authority.rfind(':');
    if (colon != std::string::npos) port = std::stoi(authority.substr(colon + (authority.front() == '[' ? 2 : 1)));
    std::string target = h.find(':') != std::string::npos ? "[" + h + "]:" + std::to_string(port) : h + ":" + std::to_string(port);
    auto q = run_curl({"http://" + hg.address("admin") + "/api/v1/route?frontend=http&target=" + target});
    auto j = json::parse(q.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << q.describe() << q.out;
    EXPECT_EQ(j["action"], "direct") << url << ": " << j.dump(2);
    EXPECT_EQ(j["port_allowed"], true) << url;
    EXPECT_EQ(j["dns"]["refused"], false) << url;
  }
}

TEST(AdminPac, FollowsRouteChangesAndTheHostHeader) {
  // A name in Host is only answered when listed (listeners.admin.hosts: DNS rebinding protection).
  auto cfg = config_a();
  cfg["listeners"]["admin"]["hosts"] = json::array({"gateway.example"});
  HopgateProcess hg(cfg);
  // Replace the rules: a "resolve": true CIDR rule (the PAC leaves names to hopgate) and a direct default.
  auto put = run_curl({"-X", "PUT", "-H", "Content-Type: application/json", "--data-binary",
                       R"({"routes": [{"name": "home", "match": {"cidr": ["192.168.0.0/16"]}, "resolve": true, "via": "direct"}],
                           "default": {"via": "direct"}})",
                       "http://" + hg.address("admin") + "/api/v1/routes"});
  ASSERT_TRUE(put.ok()) << put.describe();
  ASSERT_NE(put.out.find("\"generation\": 2"), std::string::npos) << put.out;

  auto r = get_pac(hg, {"-H", "Host: gateway.example:9090"});
  auto pac = body_of(r);
  EXPECT_NE(pac.find("generation 2"), std::string::npos) << pac;
  const std::string P = "PROXY gateway.example:" + std::to_string(hg.port("http")) +
                        "; SOCKS5 gateway.example:" + std::to_string(hg.port("socks"));
  auto got = run_pac(pac, {{"http://192.168.1.1/", "192.168.1.1"},
                           {"http://printer.home/", "printer.home"},
                           {"http://8.8.8.8/", "8.8.8.8"},
                           {"http://hidden.onion/", "hidden.onion"}});
  EXPECT_EQ(got, (std::vector<std::string>{"DIRECT", P, "DIRECT", P})) << pac;

  // A Host header that is not a plain name is refused (RFC 9112 §3.2: 400); it never reaches the
  // JavaScript. An unlisted name gets 421 and no PAC.
  auto evil = get_pac(hg, {"-H", "Host: x\";alert(1);//"});
  EXPECT_NE(evil.out.find("HTTP/1.1 400"), std::string::npos) << evil.out;
  EXPECT_EQ(evil.out.find("alert"), std::string::npos) << evil.out;
  auto other = get_pac(hg, {"-H", "Host: other.example:9090"});
  EXPECT_NE(other.out.find("HTTP/1.1 421"), std::string::npos) << other.out;
  EXPECT_EQ(other.out.find("FindProxyForURL"), std::string::npos) << other.out;
}
