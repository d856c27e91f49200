#include "gateway/api/metrics.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

namespace gridlet::api {
namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

std::string read_small_file(const char* path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<ProcessStats> parse_process_stats(std::string_view stat, std::string_view statm,
                                                std::string_view proc_stat, long ticks_per_second,
                                                long page_size) {
  if (ticks_per_second <= 0 || page_size <= 0) return std::nullopt;
  // The command name is in parentheses and may hold spaces; fields resume after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::istringstream fields{std::string(stat.substr(close + 1))};
  // Field 3 (state) is the first after ')'; utime is field 14, stime 15, starttime 22.
  std::vector<std::string> f;
  std::string tok;
  while (fields >> tok && f.size() < 20) f.push_back(tok);
  if (f.size() < 20) return std::nullopt;
  auto number = [](const std::string& s) -> std::optional<unsigned long long> {
    unsigned long long v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
  };
  const auto utime = number(f[14 - 3]);
  const auto stime = number(f[15 - 3]);
  const auto start_ticks = number(f[22 - 3]);
  if (!utime || !stime || !start_ticks) return std::nullopt;

  std::istringstream mem{std::string(statm)};
  unsigned long long size_pages = 0, resident_pages = 0;
  if (!(mem >> size_pages >> resident_pages)) return std::nullopt;

  ProcessStats s;
  // /proc/stat is hidden under systemd's ProcSubset=pid: then the start time stays unknown (0)
  // and RSS and CPU are still reported.
  if (const auto bt = proc_stat.find("btime "); bt != std::string_view::npos) {
    std::istringstream btime_in{std::string(proc_stat.substr(bt + 6))};
    unsigned long long btime = 0;
    if (btime_in >> btime) {
      s.start_time_seconds = static_cast<double>(btime) + static_cast<double>(*start_ticks) /
                                                              static_cast<double>(ticks_per_second);
    }
  }
  s.resident_memory_bytes = static_cast<double>(resident_pages) * static_cast<double>(page_size);
  s.cpu_seconds =
      static_cast<double>(*utime + *stime) / static_cast<double>(ticks_per_second);
  return s;
}

std::vector<prometheus::MetricFamily> store_metric_families(const store::StoreStats& s) {
  std::vector<prometheus::MetricFamily> out;
  auto add = [&](const char* name, const char* help, prometheus::MetricType type, double value) {
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    out.push_back(prometheus::MetricFamily{name, help, type, {m}});
  };
  using prometheus::MetricType;
  const auto d = [](auto v) { return static_cast<double>(v); };
  add("gridlet_store_samples_enqueued_total", "Samples accepted into the telemetry store queue",
      MetricType::Counter, d(s.samples_enqueued));
  add("gridlet_store_samples_committed_total",
      "Samples in batches that committed to the telemetry store", MetricType::Counter,
      d(s.samples_committed));
  add("gridlet_store_samples_dropped_total",
      "Samples rejected because the telemetry store queue was full", MetricType::Counter,
      d(s.samples_dropped));
  add("gridlet_store_samples_failed_total",
      "Samples in batches that failed (disk full, I/O error) and were rolled back",
      MetricType::Counter, d(s.samples_failed));
  add("gridlet_store_batches_total", "Batches committed to the telemetry store",
      MetricType::Counter, d(s.batches_committed));
  add("gridlet_store_batches_failed_total", "Batches of the telemetry store that failed",
      MetricType::Counter, d(s.batches_failed));
  add("gridlet_store_commit_seconds_total",
      "Time spent writing and committing batches, including fsync", MetricType::Counter,
      s.commit_seconds_total);
  add("gridlet_store_queue_depth", "Samples waiting for the telemetry store writer",
      MetricType::Gauge, d(s.queue_depth));
  add("gridlet_store_file_bytes", "Size on disk of the telemetry database and its WAL",
      MetricType::Gauge, d(s.file_bytes));
  add("gridlet_store_series", "Series known to the telemetry store", MetricType::Gauge,
      d(s.series));
  add("gridlet_store_ok", "1 when the last write of the telemetry store succeeded, else 0",
      MetricType::Gauge, s.status_code == store::StatusCode::kOk ? 1.0 : 0.0);
  return out;
}

std::vector<prometheus::MetricFamily> mqtt_metric_families(const MqttStats& stats) {
  using prometheus::ClientMetric;
  using prometheus::MetricFamily;
  using prometheus::MetricType;
  auto metric = [](std::vector<ClientMetric::Label> labels, MetricType type, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    return m;
  };
  const auto d = [](auto v) { return static_cast<double>(v); };
  MetricFamily connected{"gridlet_mqtt_connected", "1 while the broker connection is up", MetricType::Gauge, {}};
  MetricFamily connects{"gridlet_mqtt_connects_total", "Connections made to the broker", MetricType::Counter, {}};
  MetricFamily failures{"gridlet_mqtt_connect_failures_total", "Connection attempts that failed",
                        MetricType::Counter, {}};
  MetricFamily lost{"gridlet_mqtt_connections_lost_total", "Connections lost", MetricType::Counter, {}};
  MetricFamily in{"gridlet_mqtt_messages_received_total", "Messages received from the broker",
                  MetricType::Counter, {}};
  MetricFamily dropped{"gridlet_mqtt_messages_dropped_total",
                      "Messages received faster than the gateway could take them, dropped (memory bound)",
                      MetricType::Counter, {}};
  MetricFamily out{"gridlet_mqtt_messages_sent_total", "Messages delivered to the broker", MetricType::Counter, {}};
  MetricFamily publish_failed{"gridlet_mqtt_publish_failures_total",
                              "Messages that could not be delivered (not connected, or refused)",
                              MetricType::Counter, {}};
  for (const auto& b : stats.buses) {
    const std::vector<ClientMetric::Label> l{{"bus", b.id}};
    connected.metric.push_back(metric(l, MetricType::Gauge, b.stats.connected ? 1.0 : 0.0));
    connects.metric.push_back(metric(l, MetricType::Counter, d(b.stats.connects)));
    failures.metric.push_back(metric(l, MetricType::Counter, d(b.stats.connect_failures)));
    lost.metric.push_back(metric(l, MetricType::Counter, d(b.stats.connections_lost)));
    in.metric.push_back(metric(l, MetricType::Counter, d(b.stats.messages_in)));
    dropped.metric.push_back(metric(l, MetricType::Counter, d(b.stats.messages_dropped)));
    out.metric.push_back(metric(l, MetricType::Counter, d(b.stats.messages_out)));
    publish_failed.metric.push_back(metric(l, MetricType::Counter, d(b.stats.publish_failures)));
  }
  MetricFamily used{"gridlet_mqtt_device_messages_total", "Device messages that gave readings, states or availability",
                    MetricType::Counter, {}};
  MetricFamily rejected{"gridlet_mqtt_device_messages_rejected_total",
                        "Device messages (or parts) that could not be used, by reason", MetricType::Counter, {}};
  for (const auto& dev : stats.devices) {
    used.metric.push_back(metric({{"bus", dev.bus}, {"device", dev.id}}, MetricType::Counter, d(dev.messages)));
    for (const auto& [reason, n] : dev.rejected) {
      rejected.metric.push_back(
          metric({{"bus", dev.bus}, {"device", dev.id}, {"reason", reason}}, MetricType::Counter, d(n)));
    }
  }
  std::vector<MetricFamily> families;
  for (auto* f : {&connected, &connects, &failures, &lost, &in, &dropped, &out, &publish_failed, &used, &rejected}) {
    if (!f->metric.empty()) families.push_back(std::move(*f));
  }
  if (const auto& o = stats.outbox) {
    auto one = [&](const char* name, const char* help, MetricType type, double value) {
      families.push_back(MetricFamily{name, help, type, {metric({}, type, value)}});
    };
    one("gridlet_mqtt_outbox_messages", "QoS 1 messages waiting for the broker or in flight", MetricType::Gauge,
        d(o->pending));
    one("gridlet_mqtt_outbox_bytes", "Bytes (topic and payload) of the messages in the outbox", MetricType::Gauge,
        d(o->pending_bytes));
    one("gridlet_mqtt_outbox_enqueued_total", "Messages put in the outbox", MetricType::Counter, d(o->enqueued));
    one("gridlet_mqtt_outbox_delivered_total", "Outbox messages the broker acknowledged", MetricType::Counter,
        d(o->delivered));
    one("gridlet_mqtt_outbox_dropped_total", "Outbox messages dropped, oldest first, beyond its size budget",
        MetricType::Counter, d(o->dropped));
    one("gridlet_mqtt_outbox_written_total", "Outbox messages kept on disk because the broker did not take them",
        MetricType::Counter, d(o->rows_written));
    one("gridlet_mqtt_outbox_write_failures_total", "Outbox writes that failed (retried)", MetricType::Counter,
        d(o->write_failures));
  }
  if (const auto& c = stats.control) {
    MetricFamily cmds{"gridlet_mqtt_commands_total",
                      "Commands on <prefix>/<site>/+/+/set, by result (applied, not_applied, or why refused)",
                      MetricType::Counter, {}};
    cmds.metric.push_back(metric({{"result", "applied"}}, MetricType::Counter, d(c->applied)));
    cmds.metric.push_back(metric({{"result", "not_applied"}}, MetricType::Counter, d(c->not_applied)));
    for (const auto& [why, n] : c->rejected) cmds.metric.push_back(metric({{"result", why}}, MetricType::Counter, d(n)));
    families.push_back(std::move(cmds));
  }
  if (const auto& dr = stats.dr) {
    MetricFamily msgs{"gridlet_mqtt_dr_messages_total",
                      "Demand-response messages on the MQTT channel, by status and outcome or error",
                      MetricType::Counter, {}};
    for (const auto& [outcome, n] : dr->accepted) {
      msgs.metric.push_back(metric({{"status", "accepted"}, {"reason", outcome}}, MetricType::Counter, d(n)));
    }
    for (const auto& [error, n] : dr->rejected) {
      msgs.metric.push_back(metric({{"status", "rejected"}, {"reason", error}}, MetricType::Counter, d(n)));
    }
    families.push_back(MetricFamily{"gridlet_mqtt_dr_received_total", "Messages received on the DR channel",
                                    MetricType::Counter, {metric({}, MetricType::Counter, d(dr->received))}});
    if (!msgs.metric.empty()) families.push_back(std::move(msgs));
  }
  return families;
}

ApiMetrics::ApiMetrics(prometheus::Registry& reg, const std::vector<std::string>& routes)
    : registry(reg),
      requests(prometheus::BuildCounter()
                   .Name("gridlet_api_requests_total")
                   .Help("HTTP API requests answered, by route pattern and status code")
                   .Register(reg)),
      request_seconds(prometheus::BuildHistogram()
                          .Name("gridlet_api_request_seconds")
                          .Help("Time from a parsed request to its response, by route pattern")
                          .Register(reg)),
      connections(prometheus::BuildGauge()
                      .Name("gridlet_api_connections")
                      .Help("Open HTTP API connections")
                      .Register(reg)
                      .Add({})),
      connections_refused(prometheus::BuildCounter()
                              .Name("gridlet_api_connections_refused_total")
                              .Help("Connections refused (503) by max_connections or "
                                    "max_connections_per_address")
                              .Register(reg)
                              .Add({})),
      connections_evicted(prometheus::BuildCounter()
                              .Name("gridlet_api_connections_evicted_total")
                              .Help("Connections closed while waiting for request headers, to "
                                    "make room for new ones")
                              .Register(reg)
                              .Add({})),
      resident_memory_bytes(prometheus::BuildGauge()
                                .Name("process_resident_memory_bytes")
                                .Help("Resident memory size in bytes")
                                .Register(reg)
                                .Add({})),
      cpu_seconds(prometheus::BuildGauge()
                      .Name("process_cpu_seconds_total")
                      .Help("Total user and system CPU time spent in seconds")
                      .Register(reg)
                      .Add({})),
      start_time_seconds(prometheus::BuildGauge()
                             .Name("process_start_time_seconds")
                             .Help("Start time of the process since unix epoch in seconds")
                             .Register(reg)
                             .Add({})) {
  for (const auto& route : routes) {
    latency_by_route_.emplace(route, &request_seconds.Add({{"route", route}}, latency_buckets()));
  }
  latency_by_route_.emplace("unmatched",
                            &request_seconds.Add({{"route", "unmatched"}}, latency_buckets()));
  refresh_process();
}

void ApiMetrics::observe(const std::string& route, int status, double seconds) {
  requests.Add({{"code", std::to_string(status)}, {"route", route}}).Increment();
  const auto it = latency_by_route_.find(route);
  if (it != latency_by_route_.end()) it->second->Observe(seconds);
}

void ApiMetrics::refresh_process() {
  const auto stats = parse_process_stats(read_small_file("/proc/self/stat"),
                                         read_small_file("/proc/self/statm"),
                                         read_small_file("/proc/stat"), ::sysconf(_SC_CLK_TCK),
                                         ::sysconf(_SC_PAGESIZE));
  if (!stats) return;
  resident_memory_bytes.Set(stats->resident_memory_bytes);
  cpu_seconds.Set(stats->cpu_seconds);
  if (stats->start_time_seconds > 0) start_time_seconds.Set(stats->start_time_seconds);
}

}  // namespace gridlet::api
