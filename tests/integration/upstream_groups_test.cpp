// Upstream groups end to end (issue 7): real microsocks upstreams behind the real hopgate binary.
// Failover with a member stopped by PID mid-test (zero client-visible failures) and restarted on
// the same port (marked up again); round-robin spread over 1 000 connections; hash stickiness;
// one clear error when every member is dead; active probes marking members down and up without
// client traffic. Which member carried a connection is read from GET /api/v1/upstreams.
#include "routing_test_common.hpp"
#include "support/peers.hpp"
#include "support/tools.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <set>

using namespace hopgate::test;
using namespace hopgate::test::rt;

namespace {

constexpr const char* kHello = "hello from origin\n";

std::string tail(const std::string& log, std::size_t n = 6000) { return log.size() > n ? log.substr(log.size() - n) : log; }

json group_of(const std::vector<std::string>& members, const std::string& strategy, const json& extra = json::object()) {
  json g = {{"group", members}, {"strategy", strategy}};
  g.merge_patch(extra);
  return g;
}

/// microsocks on a given port (to restart a stopped member where it was), ready when constructed.
std::unique_ptr<ChildProcess> microsocks_on(std::uint16_t port) {
  auto bin = require_tool("microsocks", "microsocks");
  auto p = std::make_unique<ChildProcess>(std::vector<std::string>{bin, "-i", "127.0.0.1", "-p", std::to_string(port)});
  if (!wait_port_open("127.0.0.1", port, 10s))
    throw std::runtime_error("microsocks did not start on port " + std::to_string(port) + ": " + p->output());
  return p;
}

std::string state_of(const HopgateProcess& hg, const std::string& name) { return health(hg, name)["state"].get<std::string>(); }

} // namespace

TEST(UpstreamGroups, FailoverSurvivesStoppedMemberAndMarksItUpAfterRestart) {
  TcpEcho echo;
  HttpOrigin origin;
  auto first = std::make_unique<Microsocks>();
  Microsocks second;
  const auto first_port = first->port();
  json ups = {{"first", "socks5://" + first->address()},
              {"second", "socks5://" + second.address()},
              {"pool", group_of({"first", "second"}, "failover")}};
  HopgateProcess hg(gateway_config(ups, json::array(), "pool"));

  // Healthy: everything goes through the first member.
  for (int i = 0; i < 10; ++i) {
    std::string err;
    ASSERT_TRUE(echo_through_socks5(hg, "127.0.0.1", echo.port(), &err)) << err << "\n" << tail(hg.log());
  }
  auto r = fetch(Client::http_forward, hg, origin.url("/hello"));
  ASSERT_TRUE(r.ok()) << r.describe();
  auto before = successes_of(hg, {"first", "second"});
  EXPECT_EQ(before["first"], 11u);
  EXPECT_EQ(before["second"], 0u);
  EXPECT_EQ(state_of(hg, "first"), "up");

  // Stop the first member by its PID; every new connection from now on must still succeed.
  first->process().stop(SIGTERM, 5s);
  int failed = 0;
  std::string first_error;
  for (int i = 0; i < 50; ++i) {
    std::string err;
    if (!echo_through_socks5(hg, "127.0.0.1", echo.port(), &err)) {
      ++failed;
      if (first_error.empty()) first_error = "connection " + std::to_string(i) + ": " + err;
    }
    if (i % 10 == 5) {
      // Both front ends, real clients.
      for (auto client : {Client::socks5_hostname, Client::http_connect, Client::http_forward}) {
        auto c = fetch(client, hg, "http://" + authority("localhost", origin.port()) + "/hello");
        if (!c.ok() || c.out != kHello) {
          ++failed;
          if (first_error.empty()) first_error = c.describe();
        }
      }
    }
  }
  EXPECT_EQ(failed, 0) << "client-visible failures after the stop; first: " << first_error << "\n" << tail(hg.log());
  auto after_stop = successes_of(hg, {"first", "second"});
  EXPECT_EQ(after_stop["first"], before["first"]);
  EXPECT_GE(after_stop["second"], 50u);
  auto h = health(hg, "first");
  EXPECT_EQ(h["state"], "down") << h.dump();
  ASSERT_TRUE(h["last_error"].is_string()) << h.dump();
  EXPECT_TRUE(contains(h["last_error"].get<std::string>(), "first")) << h.dump();
  EXPECT_TRUE(contains(lower(h["last_error"].get<std::string>()), "refused")) << h.dump();
  EXPECT_GE(h["failures"].get<int>(), 1) << h.dump();
  EXPECT_EQ(state_of(hg, "second"), "up");
  EXPECT_EQ(metric(hg, "hopgate_upstream_up{upstream=\"first\"}").value_or(-1), 0);
  EXPECT_EQ(metric(hg, "hopgate_upstream_up{upstream=\"second\"}").value_or(-1), 1);
  EXPECT_TRUE(contains(hg.log(), "upstream first is down")) << tail(hg.log());

  // Restart it on the same port: after the back-off a connection tries it again and it is up.
  first.reset();
  auto restarted = microsocks_on(first_port);
  int failed_after_restart = 0;
  auto started = std::chrono::steady_clock::now();
  bool up = eventually(
      [&] {
        if (!echo_through_socks5(hg, "127.0.0.1", echo.port())) ++failed_after_restart;
        return state_of(hg, "first") == "up";
      },
      15s, 200ms);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_TRUE(up) << health(hg, "first").dump() << "\n" << tail(hg.log());
  EXPECT_LT(took, 10.5) << "marked up again only after " << took << " s";
  EXPECT_EQ(failed_after_restart, 0);
  EXPECT_TRUE(contains(hg.log(), "upstream first is up again")) << tail(hg.log());
  // And failover prefers it again.
  auto before_back = successes(hg, "first");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(echo_through_socks5(hg, "127.0.0.1", echo.port()));
  EXPECT_EQ(successes(hg, "first"), before_back + 5);
  EXPECT_EQ(metric(hg, "hopgate_upstream_up{upstream=\"first\"}").value_or(-1), 1);
}

TEST(UpstreamGroups, FailoverPastAHungMember) {
  // A member that accepts connections but never answers: microsocks stopped with SIGSTOP (the
  // kernel still completes the TCP handshake). The handshake times out; the client must still be
  // served by the next member within its connect deadline.
  TcpEcho echo;
  Microsocks first, second;
  json ups = {{"first", "socks5://" + first.address()},
              {"second", "socks5://" + second.address()},
              {"pool", group_of({"first", "second"}, "failover")}};
  HopgateProcess hg(gateway_config(ups, json::array(), "pool", {{"timeouts", {{"connect", 3}}}}));
  std::string err;
  ASSERT_TRUE(echo_through_socks5(hg, "127.0.0.1", echo.port(), &err)) << err;
  ASSERT_EQ(::kill(first.process().pid(), SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{first.process().pid()};

  int failed = 0;
  std::string first_error;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!echo_through_socks5(hg, "127.0.0.1", echo.port(), &err)) {
      ++failed;
      if (first_error.empty())
        first_error = "connection " + std::to_string(i) + " after " +
                      std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) + " s: " + err;
    }
  }
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(failed, 0) << first_error << "\n" << tail(hg.log());
  auto h = health(hg, "first");
  EXPECT_EQ(h["state"], "down") << h.dump();
  EXPECT_TRUE(h["last_error"].is_string() && contains(lower(h["last_error"].get<std::string>()), "timed out")) << h.dump();
  EXPECT_GE(successes(hg, "second"), 10u - static_cast<unsigned>(failed));
  RecordProperty("seconds_for_10_connections", std::to_string(took));
}

TEST(UpstreamGroups, RoundRobinSpreadsThousandConnectionsEvenly) {
  TcpEcho echo;
  Microsocks a, b, c;
  json ups = {{"a", "socks5://" + a.address()},
              {"b", "socks5://" + b.address()},
              {"c", "socks5://" + c.address()},
              {"rr", group_of({"a", "b", "c"}, "round-robin")}};
  HopgateProcess hg(gateway_config(ups, json::array(), "rr"));
  constexpr int kConnections = 1000;
  int failed = 0;
  std::string first_error;
  for (int i = 0; i < kConnections; ++i) {
    std::string err;
    if (!echo_through_socks5(hg, "127.0.0.1", echo.port(), &err)) {
      ++failed;
      if (first_error.empty()) first_error = err;
    }
  }
  EXPECT_EQ(failed, 0) << first_error;
  auto s = successes_of(hg, {"a", "b", "c"});
  EXPECT_EQ(s["a"] + s["b"] + s["c"], static_cast<std::uint64_t>(kConnections));
  const double share = kConnections / 3.0;
  for (auto& [name, n] : s) {
    EXPECT_GE(static_cast<double>(n), share * 0.95) << name << " got " << n;
    EXPECT_LE(static_cast<double>(n), share * 1.05) << name << " got " << n;
  }
}

TEST(UpstreamGroups, HashByTargetIsStickyAndSpreadsTargets) {
  Microsocks a, b, c;
  json ups = {{"a", "socks5h://" + a.address()},
              {"b", "socks5h://" + b.address()},
              {"c", "socks5h://" + c.address()},
              {"sticky", group_of({"a", "b", "c"}, "hash", {{"hash_key", "target"}})}};
  HopgateProcess hg(gateway_config(ups, json::array(), "sticky"));
  const std::vector<std::string> names = {"a", "b", "c"};
  std::vector<std::unique_ptr<TcpEcho>> echoes;
  for (int i = 0; i < 8; ++i) echoes.push_back(std::make_unique<TcpEcho>());

  // One target, 20 connections: one member takes them all.
  {
    auto before = successes_of(hg, names);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(echo_through_socks5(hg, "127.0.0.1", echoes[0]->port()));
    auto after = successes_of(hg, names);
    int moved = 0;
    for (auto& n : names) {
      auto d = after[n] - before[n];
      EXPECT_TRUE(d == 0 || d == 20) << n << " got " << d << " of 20 connections to one target";
      moved += d == 20;
    }
    EXPECT_EQ(moved, 1);
  }
  // 16 targets (8 ports, by IP and by name), three connections each: each target sticks to one
  // member, and the targets do not all land on the same member.
  std::set<std::string> used;
  for (auto& e : echoes)
    for (const std::string host : {"127.0.0.1", "localhost"}) {
      SCOPED_TRACE(authority(host, e->port()));
      auto before = successes_of(hg, names);
      for (int i = 0; i < 3; ++i) ASSERT_TRUE(echo_through_socks5(hg, host, e->port()));
      auto after = successes_of(hg, names);
      int members = 0;
      for (auto& n : names) {
        auto d = after[n] - before[n];
        EXPECT_TRUE(d == 0 || d == 3) << n << " got " << d << " of 3";
        if (d == 3) {
          ++members;
          used.insert(n);
        }
      }
      EXPECT_EQ(members, 1);
    }
  EXPECT_GE(used.size(), 2u) << "16 targets all hashed to one member";
}

TEST(UpstreamGroups, AllMembersDeadGiveOneErrorListingThem) {
  HttpOrigin origin;
  auto p1 = free_tcp_port();
  auto p2 = free_tcp_port();
  while (p2 == p1) p2 = free_tcp_port();
  json ups = {{"dead-one", "socks5://127.0.0.1:" + std::to_string(p1)},
              {"dead-two", "http://127.0.0.1:" + std::to_string(p2)},
              {"pool", group_of({"dead-one", "dead-two"}, "failover")}};
  HopgateProcess hg(gateway_config(ups, json::array(), "pool"));
  // Twice: first while both are presumed up, then while both are marked down.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto connect = http_connect(hg, authority("127.0.0.1", origin.port()));
    EXPECT_EQ(connect.status, 502) << connect.describe();
    EXPECT_TRUE(contains(connect.body, "pool")) << connect.describe();
    EXPECT_TRUE(contains(connect.body, "dead-one")) << connect.describe();
    EXPECT_TRUE(contains(connect.body, "dead-two")) << connect.describe();
    auto forward = http_forward(hg, origin.url("/hello"));
    EXPECT_EQ(forward.status, 502) << forward.describe();
    EXPECT_TRUE(contains(forward.body, "dead-one") && contains(forward.body, "dead-two")) << forward.describe();
    Bytes raw;
    int rep = socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw);
    EXPECT_TRUE(rep == 0x01 || rep == 0x05) << to_hex(raw);
    EXPECT_EQ(socks4_reply(hg, "127.0.0.1", origin.port()), 0x5B);
    auto curl = fetch(Client::http_forward, hg, origin.url("/hello"));
    EXPECT_TRUE(contains(curl.out, "dead-one") && contains(curl.out, "dead-two")) << curl.describe() << "\n" << curl.out;
  }
  EXPECT_EQ(state_of(hg, "dead-one"), "down");
  EXPECT_EQ(state_of(hg, "dead-two"), "down");
  EXPECT_EQ(origin.connections_accepted(), 0u);
}

TEST(UpstreamGroups, ActiveProbesMarkMembersWithoutClientTraffic) {
  TcpEcho probe_target;
  Microsocks live;
  auto dead_port = free_tcp_port();
  auto unused_port = free_tcp_port();
  json ups = {{"live", "socks5://" + live.address()},
              {"dead", "socks5://127.0.0.1:" + std::to_string(dead_port)},
              {"idle", "socks5://127.0.0.1:" + std::to_string(unused_port)},
              {"probed", group_of({"live", "dead"}, "failover",
                                  {{"probe", authority("127.0.0.1", probe_target.port())}, {"interval", 1}})},
              // Not used by any route: never probed.
              {"spare", group_of({"idle"}, "failover", {{"probe", authority("127.0.0.1", probe_target.port())}, {"interval", 1}})}};
  HopgateProcess hg(gateway_config(ups, json::array(), "probed"));

  EXPECT_TRUE(eventually([&] { return state_of(hg, "dead") == "down"; }, 10s)) << health(hg, "dead").dump() << "\n" << tail(hg.log());
  auto dead = health(hg, "dead");
  EXPECT_TRUE(dead["last_error"].is_string() && contains(lower(dead["last_error"].get<std::string>()), "refused")) << dead.dump();
  EXPECT_TRUE(eventually([&] { return successes(hg, "live") >= 1; }, 10s)) << health(hg, "live").dump();
  EXPECT_EQ(state_of(hg, "live"), "up");
  EXPECT_GE(probe_target.connections_accepted(), 1u) << "the probe did not reach its target through the live member";

  // The dead member comes to life: the probes notice, still without client traffic.
  auto revived = microsocks_on(dead_port);
  EXPECT_TRUE(eventually([&] { return state_of(hg, "dead") == "up"; }, 15s)) << health(hg, "dead").dump() << "\n" << tail(hg.log());

  auto idle = health(hg, "idle");
  EXPECT_EQ(idle["successes"], 0) << idle.dump();
  EXPECT_EQ(idle["failures"], 0) << "a group no route uses was probed: " << idle.dump();
}

TEST(UpstreamGroups, TargetSideFailuresDoNotCountAgainstMember) {
  // microsocks answers 0x05 when the target refuses: that is the target's fault, not the hop's.
  Microsocks a, b;
  json ups = {{"a", "socks5://" + a.address()}, {"b", "socks5://" + b.address()}, {"pool", group_of({"a", "b"}, "failover")}};
  HopgateProcess hg(gateway_config(ups, json::array(), "pool"));
  auto closed = free_tcp_port();
  for (int i = 0; i < 5; ++i) {
    Bytes raw;
    EXPECT_EQ(socks5_reply(hg, "127.0.0.1", closed, std::nullopt, &raw), 0x05) << to_hex(raw);
  }
  auto r = http_connect(hg, authority("127.0.0.1", closed));
  EXPECT_EQ(r.status, 502) << r.describe();
  EXPECT_TRUE(contains(lower(r.body), "refused")) << r.describe();
  auto ha = health(hg, "a");
  EXPECT_EQ(ha["state"], "up") << ha.dump();
  EXPECT_EQ(ha["failures"], 0) << ha.dump();
  // Not retried on the other member either: it would be refused the same way.
  auto hb = health(hg, "b");
  EXPECT_EQ(hb["successes"], 0) << hb.dump();
  EXPECT_EQ(hb["failures"], 0) << hb.dump();
}

TEST(UpstreamGroups, LeastConnectionsPicksTheLeastBusy) {
  TcpEcho echo;
  Microsocks a, b, c;
  json ups = {{"a", "socks5://" + a.address()},
              {"b", "socks5://" + b.address()},
              {"c", "socks5://" + c.address()},
              {"lc", group_of({"a", "b", "c"}, "least-connections")}};
  HopgateProcess hg(gateway_config(ups, json::array(), "lc"));
  std::vector<Fd> open;
  for (int i = 0; i < 6; ++i) open.push_back(sw::connect5(hg.port("socks"), "127.0.0.1", echo.port()));
  auto all = upstreams(hg);
  for (const std::string n : {"a", "b", "c"}) EXPECT_EQ(all[n]["health"]["active_connections"], 2) << n << ": " << all[n].dump();
  // Close a's two: the next two go to a.
  std::vector<Fd> keep;
  auto before = successes_of(hg, {"a", "b", "c"});
  open.clear();
  EXPECT_TRUE(eventually([&] {
    auto u = upstreams(hg);
    return u["a"]["health"]["active_connections"] == 0 && u["b"]["health"]["active_connections"] == 0 &&
           u["c"]["health"]["active_connections"] == 0;
  })) << upstreams(hg)["a"].dump();
  for (int i = 0; i < 3; ++i) keep.push_back(sw::connect5(hg.port("socks"), "127.0.0.1", echo.port()));
  auto after = successes_of(hg, {"a", "b", "c"});
  for (const std::string n : {"a", "b", "c"}) EXPECT_EQ(after[n], before[n] + 1) << n;
}

TEST(UpstreamGroups, GroupAsOneHopOfAChain) {
  HttpOrigin origin;
  Microsocks front, ms;
  Tinyproxy tiny;
  auto dead = free_tcp_port();
  json ups = {{"front", "socks5://" + front.address()},
              {"dead", "socks5h://127.0.0.1:" + std::to_string(dead)},
              {"ms", "socks5h://" + ms.address()},
              {"tiny", "http://" + tiny.address()},
              {"pool", group_of({"dead", "ms"}, "failover")}};
  json routes = json::array({
      {{"name", "group-first"}, {"match", {{"frontend", {"socks"}}}}, {"via", {"pool", "tiny"}}},
      {{"name", "group-second"}, {"match", {{"frontend", {"http"}}}}, {"via", {"front", "pool"}}},
  });
  HopgateProcess hg(gateway_config(ups, routes, "block"));
  for (auto client : {Client::socks5_hostname, Client::http_connect, Client::http_forward}) {
    SCOPED_TRACE(to_string(client));
    for (int i = 0; i < 3; ++i) {
      auto r = fetch(client, hg, "http://" + authority("localhost", origin.port()) + "/hello");
      EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
      EXPECT_EQ(r.out, kHello);
    }
  }
  // The dead member is down whichever position the group had; "front", which reported that it
  // could not reach it, is not blamed.
  EXPECT_EQ(state_of(hg, "dead"), "down");
  EXPECT_EQ(state_of(hg, "front"), "up");
  EXPECT_GE(successes(hg, "ms"), 2u);
  EXPECT_GE(successes(hg, "tiny"), 1u);
}

// A group member can be a named chain ({"chain": [...]}): it is tried, and marked down or up, as
// a whole, and a hop of it that fails is blamed itself (not the hop before it that reported it).
TEST(UpstreamGroups, GroupMemberCanBeANamedChain) {
  HttpOrigin origin;
  Microsocks a, b;
  auto dead = free_tcp_port();
  json ups = {{"a", "socks5h://" + a.address()},
              {"b", "socks5h://" + b.address()},
              {"dead", "socks5h://127.0.0.1:" + std::to_string(dead)},
              {"pair", {{"chain", {"a", "b"}}}},
              {"broken-pair", {{"chain", {"a", "dead"}}}},
              {"pool", group_of({"dead", "pair"}, "failover")},
              {"pool2", group_of({"broken-pair", "b"}, "failover")}};
  json routes = json::array({
      {{"name", "second"}, {"match", {{"frontend", {"http"}}}}, {"via", "pool2"}},
  });
  HopgateProcess hg(gateway_config(ups, routes, "pool"));

  auto fetch_three_times = [&](std::initializer_list<Client> clients) {
    for (auto client : clients) {
      SCOPED_TRACE(to_string(client));
      for (int i = 0; i < 3; ++i) {
        auto r = fetch(client, hg, "http://" + authority("localhost", origin.port()) + "/hello");
        EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
        EXPECT_EQ(r.out, kHello);
      }
    }
  };

  // SOCKS clients take "pool": the dead member first, then the chain a -> b.
  fetch_three_times({Client::socks5_hostname, Client::socks5});
  EXPECT_EQ(state_of(hg, "dead"), "down");
  EXPECT_EQ(state_of(hg, "pair"), "up");
  auto s = successes_of(hg, {"a", "b", "pair"});
  EXPECT_GE(s["pair"], 5u);
  EXPECT_GE(s["a"], 5u) << "both hops of the chain carried the connections";
  EXPECT_GE(s["b"], 5u);

  // HTTP clients take "pool2": the chain a -> dead fails at its second hop, the group goes on
  // to b. The chain is marked down; "a", which only reported that it could not reach "dead", is not.
  fetch_three_times({Client::http_connect, Client::http_forward});
  EXPECT_EQ(state_of(hg, "broken-pair"), "down");
  EXPECT_EQ(state_of(hg, "a"), "up");

  // The admin API shows what the chain is made of.
  auto all = upstreams(hg);
  EXPECT_EQ(all.at("pair")["kind"], "chain");
  EXPECT_EQ(all.at("pair")["hops"], json({"a", "b"}));
}
