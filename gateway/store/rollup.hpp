// In-memory aggregation of one batch into rollup buckets, so the writer issues one upsert per
// (series, bucket) per batch instead of one per sample. Pure: no SQLite, no clock.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace gridlet::store::detail {

// Aggregate of the samples of one series in one bucket. "last" is the value with the greatest
// timestamp, so samples may arrive in any order.
struct BucketAggregate {
  std::int64_t series = 0;
  std::int64_t bucket_ms = 0;  // start of the bucket
  double min = 0;
  double max = 0;
  double sum = 0;
  std::int64_t count = 0;
  std::int64_t last_ts_ms = 0;
  double last_value = 0;
};

class BatchRollup {
 public:
  explicit BatchRollup(std::int64_t bucket_ms);

  void add_sample(std::int64_t series, std::int64_t ts_ms, double value);
  // Folds a finer aggregate (e.g. a 1-minute bucket into its 15-minute bucket).
  void add_aggregate(const BucketAggregate& finer);
  // Forgets the batch but keeps the allocated memory for the next one.
  void clear();

  std::int64_t bucket_ms() const { return bucket_ms_; }
  const std::vector<BucketAggregate>& buckets() const { return buckets_; }

 private:
  struct Key {
    std::int64_t series;
    std::int64_t bucket_ms;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return static_cast<std::size_t>(k.series * 0x9E3779B97F4A7C15ULL) ^
             static_cast<std::size_t>(k.bucket_ms);
    }
  };
  // Most batches hold a few series appended in time order; remembering the last bucket of each
  // series (by a small direct-mapped table) skips the hash map for nearly every sample.
  struct RecentSlot {
    Key key{-1, 0};
    std::size_t index = 0;
    bool valid = false;
  };

  BucketAggregate& find_or_insert(std::int64_t series, std::int64_t bucket);

  std::int64_t bucket_ms_;
  std::vector<BucketAggregate> buckets_;
  std::unordered_map<Key, std::size_t, KeyHash> index_;
  std::array<RecentSlot, 64> recent_{};
};

}  // namespace gridlet::store::detail
