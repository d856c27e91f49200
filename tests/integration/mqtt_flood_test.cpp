// A flood faster than the owner's loop can take: the client keeps at most max_queued_bytes of
// received messages waiting, drops and counts the rest, and goes on working.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"

namespace gridlet {
namespace {

using gridlet::testing::eventually;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using namespace std::chrono_literals;
namespace mq = adapters::mqtt;

TEST(MqttFlood, ReceivedMessagesWaitingForTheLoopAreBoundedDroppedAndCounted) {
  TempDir dir;
  Mosquitto broker(dir.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  std::atomic<int> handled{0};
  ThreadExecutor loop;
  ThreadExecutor sender_loop;
  mq::ClientSettings s;
  s.name = s.client_id = "slow";
  s.url = broker.url();
  s.max_queued_bytes = 64 * 1024;
  mq::Client slow(s, loop, {{}, {}, [&](mq::Message) { ++handled; }});
  slow.subscribe("flood/#", 0);
  ASSERT_TRUE(slow.start());
  ASSERT_TRUE(eventually(5s, [&] { return slow.connected(); }));
  s.name = s.client_id = "sender";
  s.max_queued_bytes = 16U << 20;
  mq::Client sender(s, sender_loop, {});
  ASSERT_TRUE(sender.start());
  ASSERT_TRUE(eventually(5s, [&] { return sender.connected(); }));
  std::this_thread::sleep_for(200ms);  // the subscription is made

  // The loop is stuck while 500 messages of 1 KiB arrive: far more than 64 KiB would wait.
  std::promise<void> release;
  loop.post([f = release.get_future().share()] { f.wait(); });
  const std::string payload(1024, 'x');
  constexpr int kSent = 500;
  for (int i = 0; i < kSent; ++i) {
    ASSERT_TRUE(eventually(5s, [&] { return sender.publish({"flood/" + std::to_string(i % 10), payload, 0, false}); }));
  }
  ASSERT_TRUE(eventually(10s, [&] { return slow.stats().messages_in == kSent; })) << slow.stats().messages_in;
  release.set_value();
  const auto st = slow.stats();
  EXPECT_GT(st.messages_dropped, 400u);
  EXPECT_TRUE(eventually(5s, [&] { return handled.load() + static_cast<int>(st.messages_dropped) == kSent; }))
      << handled.load() << " handled, " << st.messages_dropped << " dropped";
  EXPECT_LE(handled.load(), 64);
  // Once the loop is free again, messages flow as before.
  const int before = handled.load();
  ASSERT_TRUE(sender.publish({"flood/after", "1", 0, false}));
  EXPECT_TRUE(eventually(5s, [&] { return handled.load() == before + 1; }));
}

}  // namespace
}  // namespace gridlet
