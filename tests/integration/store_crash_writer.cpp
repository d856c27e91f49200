// Crash-test writer: appends samples to the store at argv[1] as fast as it can, forever, and
// prints "committed <N>" (one write(2) per line) each time every sample with sequence < N is
// known committed. store_crash_test kills it with SIGKILL and checks the promise.
//
// Sample with sequence n: series kSeriesBase + n % kSeries, ts = kBaseTs + n / kSeries * 10,
// value = n * 0.5 (exact in a double). argv[2], optional, is the first sequence number.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/store/telemetry_store.hpp"

namespace {

constexpr std::int64_t kSeries = 4;
constexpr std::int64_t kSeriesBase = 1;
constexpr std::int64_t kBaseTs = 1'700'000'000'000;
constexpr std::int64_t kChunk = 500;

gridlet::store::Sample sample_for(std::int64_t n) {
  return {kSeriesBase + n % kSeries, kBaseTs + n / kSeries * 10, static_cast<double>(n) * 0.5};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <db path> [first sequence]\n", argv[0]);
    return 2;
  }
  gridlet::store::StoreOptions options;
  options.path = argv[1];
  options.commit_interval = std::chrono::milliseconds(20);
  options.max_batch_samples = 20'000;
  options.queue_limit_samples = 200'000;
  // Keep everything: the test checks old samples.
  options.raw_retention = options.rollup_1m_retention = options.rollup_15m_retention =
      std::chrono::milliseconds(0);
  gridlet::store::OpenError error;
  auto store = gridlet::store::TelemetryStore::open(options, &error);
  if (!store) {
    std::fprintf(stderr, "open failed: %s\n", error.message.c_str());
    return 1;
  }
  std::int64_t seq = argc > 2 ? std::strtoll(argv[2], nullptr, 10) : 0;
  std::vector<gridlet::store::Sample> chunk(kChunk);
  for (;;) {
    for (std::int64_t i = 0; i < kChunk; ++i) chunk[static_cast<std::size_t>(i)] = sample_for(seq + i);
    const std::int64_t end = seq + kChunk;
    // Callbacks run on the writer thread in append order, so "end" only grows.
    auto on_commit = [end](const gridlet::store::Status& status) {
      if (!status.is_ok()) {
        std::fprintf(stderr, "commit failed\n");
        std::_Exit(3);
      }
      const std::string line = "committed " + std::to_string(end) + "\n";
      // One write(2) of less than PIPE_BUF bytes: the reader sees whole lines only.
      if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(4);
    };
    if (store->append(chunk, on_commit)) {
      seq = end;
    } else {
      std::this_thread::yield();  // queue full: let the writer catch up, retry the same chunk
    }
  }
}
