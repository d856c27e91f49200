// The gateway's Prometheus metrics, all defined here: the API's (requests by route pattern and
// status code, request latency, connections), the telemetry store's counters (read from
// StoreStats at scrape time; the store registers nothing itself), and process metrics (memory,
// CPU, start time) read from /proc/self at scrape time, and the MQTT connections' and devices'
// counters (read at scrape time from the MQTT side).
// Thread: every member may be used from any thread (prometheus-cpp metrics are atomic).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "gateway/api/mqtt_stats.hpp"
#include "gateway/store/telemetry_store.hpp"

namespace gridlet::api {

struct ProcessStats {
  double resident_memory_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // Unix seconds
};

// Parses /proc/self/stat text (fields after the command name), /proc/self/statm text, and the
// "btime" line of /proc/stat (optional: without it start_time_seconds is 0). Exposed for tests.
// nullopt when the per-process text is malformed.
std::optional<ProcessStats> parse_process_stats(std::string_view stat, std::string_view statm,
                                                std::string_view proc_stat, long ticks_per_second,
                                                long page_size);

// The route label of answers to requests that could not be parsed (400, 413, 431).
inline const std::string kUnparsedRoute = "unparsed";

// The gridlet_store_* families of one scrape.
std::vector<prometheus::MetricFamily> store_metric_families(const store::StoreStats& stats);

// The gridlet_mqtt_* families: connections, messages in and out, and the messages devices sent
// that could not be used, by device and reason (not_json, wrong_type, missing_field, too_large,
// no_mapping, bad_value).
std::vector<prometheus::MetricFamily> mqtt_metric_families(const MqttStats& stats);

struct ApiMetrics {
  // Registers the families (merging with ones already registered under the same names).
  // `routes` are the route patterns whose latency histograms are created up front.
  ApiMetrics(prometheus::Registry& registry, const std::vector<std::string>& routes);

  // Counts one answered request. route is the matched pattern, or "unmatched".
  void observe(const std::string& route, int status, double seconds);
  // Re-reads /proc/self; failures leave the previous values.
  void refresh_process();

  prometheus::Registry& registry;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& request_seconds;
  prometheus::Gauge& connections;
  prometheus::Counter& connections_refused;
  prometheus::Counter& connections_evicted;
  prometheus::Gauge& resident_memory_bytes;
  prometheus::Gauge& cpu_seconds;
  prometheus::Gauge& start_time_seconds;

 private:
  std::map<std::string, prometheus::Histogram*, std::less<>> latency_by_route_;  // fixed after ctor
};

}  // namespace gridlet::api
