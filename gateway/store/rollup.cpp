#include "gateway/store/rollup.hpp"

#include <algorithm>

#include "gateway/store/database.hpp"

namespace gridlet::store::detail {

BatchRollup::BatchRollup(std::int64_t bucket_ms) : bucket_ms_(bucket_ms) {}

BucketAggregate& BatchRollup::find_or_insert(std::int64_t series, std::int64_t bucket) {
  const Key key{series, bucket};
  RecentSlot& slot = recent_[static_cast<std::size_t>(series) % recent_.size()];
  if (slot.valid && slot.key == key) return buckets_[slot.index];
  auto [it, inserted] = index_.try_emplace(key, buckets_.size());
  if (inserted) {
    BucketAggregate fresh;
    fresh.series = series;
    fresh.bucket_ms = bucket;
    buckets_.push_back(fresh);
  }
  slot = RecentSlot{key, it->second, true};
  return buckets_[it->second];
}

void BatchRollup::add_sample(std::int64_t series, std::int64_t ts_ms, double value) {
  BucketAggregate& agg = find_or_insert(series, bucket_start(ts_ms, bucket_ms_));
  if (agg.count == 0) {
    agg.min = agg.max = agg.sum = agg.last_value = value;
    agg.last_ts_ms = ts_ms;
    agg.count = 1;
    return;
  }
  agg.min = std::min(agg.min, value);
  agg.max = std::max(agg.max, value);
  agg.sum += value;
  agg.count += 1;
  if (ts_ms >= agg.last_ts_ms) {
    agg.last_ts_ms = ts_ms;
    agg.last_value = value;
  }
}

void BatchRollup::add_aggregate(const BucketAggregate& finer) {
  BucketAggregate& agg = find_or_insert(finer.series, bucket_start(finer.bucket_ms, bucket_ms_));
  if (agg.count == 0) {
    const std::int64_t bucket = agg.bucket_ms;
    agg = finer;
    agg.bucket_ms = bucket;
    return;
  }
  agg.min = std::min(agg.min, finer.min);
  agg.max = std::max(agg.max, finer.max);
  agg.sum += finer.sum;
  agg.count += finer.count;
  if (finer.last_ts_ms >= agg.last_ts_ms) {
    agg.last_ts_ms = finer.last_ts_ms;
    agg.last_value = finer.last_value;
  }
}

void BatchRollup::clear() {
  buckets_.clear();
  index_.clear();
  recent_.fill(RecentSlot{});
}

}  // namespace gridlet::store::detail
