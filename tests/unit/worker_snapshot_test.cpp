// How a worker hands out the current config snapshot (frontend::Worker::current): the newest
// one after each publish, kept alive for as long as a session holds it, and counted in the
// worker's own block, not in the one every worker shares.
#include "hopgate/frontend/context.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace hopgate;

std::shared_ptr<const routing::Snapshot> snapshot(std::uint64_t generation) {
  return routing::Snapshot::make(std::make_shared<const config::Config>(), generation);
}

TEST(WorkerSnapshot, FollowsEachPublishAndKeepsWhatASessionHolds) {
  boost::asio::io_context io;
  frontend::Shared shared;
  frontend::Worker worker(io.get_executor());

  auto first = snapshot(1);
  std::weak_ptr<const routing::Snapshot> first_alive = first;
  shared.publish(std::move(first));
  auto held = worker.current(shared);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->generation, 1u);

  shared.publish(snapshot(2));
  auto next = worker.current(shared);
  EXPECT_EQ(next->generation, 2u); // a reload reaches the next request at once
  EXPECT_EQ(held->generation, 1u); // and does not change what a session already took
  EXPECT_FALSE(first_alive.expired());
  held.reset();
  EXPECT_TRUE(first_alive.expired()); // gone with its last holder
}

TEST(WorkerSnapshot, SessionsCountTheirReferencesInTheWorkersBlock) {
  boost::asio::io_context io;
  frontend::Shared shared;
  frontend::Worker a(io.get_executor());
  frontend::Worker b(io.get_executor());
  shared.publish(snapshot(7));
  auto global_uses = [&] { return shared.current().use_count() - 1; }; // less the one asked for here
  (void)a.current(shared);
  (void)b.current(shared);
  auto before = global_uses();
  std::vector<std::shared_ptr<const routing::Snapshot>> sessions;
  for (int i = 0; i < 50; ++i) sessions.push_back(i % 2 ? a.current(shared) : b.current(shared));
  EXPECT_EQ(global_uses(), before); // requests on either worker never touched the shared count
  for (auto& s : sessions) EXPECT_EQ(s.get(), shared.current().get()); // the one snapshot, not copies
}

} // namespace
