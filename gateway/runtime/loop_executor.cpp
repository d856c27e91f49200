#include "gateway/runtime/loop_executor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

namespace gridlet::runtime {

void LoopExecutor::post(std::function<void()> work) { boost::asio::post(ioc_, std::move(work)); }

void LoopExecutor::post_after(std::chrono::milliseconds delay, std::function<void()> work) {
  // Timers may be armed from any thread: arm it on the loop.
  boost::asio::post(ioc_, [this, delay, work = std::move(work)]() mutable {
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, delay);
    timer->async_wait([timer, work = std::move(work)](const boost::system::error_code& ec) {
      if (!ec) work();
    });
  });
}

}  // namespace gridlet::runtime
