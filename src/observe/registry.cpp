#include "hopgate/observe/registry.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace hopgate::observe {

std::shared_ptr<Connection> Registry::open(std::string client, config::Protocol frontend, asio::any_io_executor ex) {
  auto c = std::make_shared<Connection>();
  c->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  c->client = std::move(client);
  c->frontend = frontend;
  c->executor = std::move(ex);
  auto& shard = shards_[c->id % shards];
  {
    std::lock_guard lock(shard.mutex);
    shard.map.emplace(c->id, c);
  }
  size_.fetch_add(1, std::memory_order_relaxed);
  return c;
}

void Registry::close(std::uint64_t id) {
  auto& shard = shards_[id % shards];
  std::lock_guard lock(shard.mutex);
  if (shard.map.erase(id)) size_.fetch_sub(1, std::memory_order_relaxed);
}

std::vector<std::shared_ptr<Connection>> Registry::list() const {
  std::vector<std::shared_ptr<Connection>> out;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto& [id, c] : shard.map) out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a->id < b->id; });
  return out;
}

bool Registry::kill(std::uint64_t id) {
  std::shared_ptr<Connection> c;
  {
    auto& shard = shards_[id % shards];
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(id);
    if (it == shard.map.end()) return false;
    c = it->second;
  }
  asio::post(c->executor, [c] {
    std::function<void()> k;
    {
      std::lock_guard lock(c->mutex);
      k = c->kill;
    }
    if (k) k();
  });
  return true;
}

std::size_t Registry::size() const { return size_.load(std::memory_order_relaxed); }

} // namespace hopgate::observe
