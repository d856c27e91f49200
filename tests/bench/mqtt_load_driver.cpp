// gridlet_mqtt_load: the load driver of the MQTT ingest benchmark (scripts/bench-mqtt).
//
// Plays N Shelly Gen2 switches and M Tasmota plugs on one broker connection (Paho MQTT C++,
// async): for --seconds it publishes at an offered rate (--rate N messages/s, or "max": as fast
// as the window allows) at QoS 0 or 1, alternating
//   <id>/events/rpc    a Shelly NotifyStatus whose switch:0 carries apower, voltage, current and
//                      aenergy.total (4 readings with the shelly-gen2-switch preset), and
//   tele/<id>/SENSOR   a Tasmota ENERGY message with Power, Total, Today, Voltage, Current and
//                      Factor (6 readings with the tasmota-plug preset),
// every value changing with every message and within the presets' ranges, so that every message
// becomes readings. Device topic ids are shelly01, shelly02, ... and tasmota01, ... (two digits
// at least), which is what scripts/bench-mqtt configures as device id and topic_id.
//
// The Shelly's params.ts is the device's own time: the wall clock, but at least 1 ms after the
// previous message of the same device, so no two of its samples share a (series, millisecond)
// key in the store (the store keeps the first of such duplicates only).
//
// The messages go out over --connections broker connections (default 2), each in a process of its
// own with its own share of the devices (device k on connection k mod K, so each device's messages
// stay in order) and of the rate: one Paho connection waits for its own I/O thread for every
// publish and tops out well below what the broker and the gateway take. On each connection at
// most --window publishes are outstanding (QoS 1: not yet acknowledged by PUBACK; QoS 0: not yet
// written to the socket), so neither Paho's queue nor the broker's grows without bound.
//
// --announce publishes every device's availability ("true" on <id>/online, "Online" on
// tele/<id>/LWT, retained, QoS 1) and exits: the gateway then counts them online.
//
// Prints one JSON line: offered and achieved rates, messages per shape, failures, and when the
// publishing began (start_unix, Unix seconds), so that a caller can time what it observes from
// the first message on.
#include <mqtt/async_client.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url = "tcp://127.0.0.1:1883";
  std::string client_id = "gridlet-mqtt-load";
  double seconds = 5.0;
  std::optional<double> rate;  // messages/s; nullopt: max
  int qos = 0;
  int shelly = 25;
  int tasmota = 25;
  int window = 200;       // per connection
  int connections = 2;
  bool announce = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "gridlet_mqtt_load: %s\n"
               "usage: gridlet_mqtt_load [--url tcp://HOST:PORT] [--seconds D] [--rate N|max] [--qos 0|1]\n"
               "                         [--shelly N] [--tasmota M] [--connections K] [--window W] [--client-id ID]\n"
               "                         [--announce]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value of " + a).c_str());
      return argv[++i];
    };
    auto number = [&](const std::string& s) {
      double v = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc{} || end != s.data() + s.size() || v < 0) usage(("bad number " + s).c_str());
      return v;
    };
    if (a == "--url") {
      o.url = value();
    } else if (a == "--client-id") {
      o.client_id = value();
    } else if (a == "--seconds") {
      o.seconds = number(value());
    } else if (a == "--rate") {
      const std::string v = value();
      if (v == "max") {
        o.rate.reset();
      } else {
        o.rate = number(v);
        if (*o.rate <= 0) usage("--rate must be > 0 or max");
      }
    } else if (a == "--qos") {
      o.qos = static_cast<int>(number(value()));
      if (o.qos > 1) usage("--qos is 0 or 1");
    } else if (a == "--shelly") {
      o.shelly = static_cast<int>(number(value()));
    } else if (a == "--tasmota") {
      o.tasmota = static_cast<int>(number(value()));
    } else if (a == "--window") {
      o.window = std::max(1, static_cast<int>(number(value())));
    } else if (a == "--connections") {
      o.connections = std::max(1, static_cast<int>(number(value())));
    } else if (a == "--announce") {
      o.announce = true;
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  if (o.shelly + o.tasmota == 0) usage("no devices");
  return o;
}

std::string device_name(const char* kind, int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%02d", kind, index + 1);
  return buf;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Device {
  bool shelly = false;
  std::string id;
  mqtt::string_ref topic;
  std::int64_t last_ts_ms = 0;  // Shelly: the device time of its last message
  std::uint64_t sent = 0;
};

// Values that change with every message and stay within the presets' min/max.
std::size_t shelly_payload(char* out, std::size_t cap, Device& d) {
  const std::int64_t ts = std::max(wall_ms(), d.last_ts_ms + 1);
  d.last_ts_ms = ts;
  const std::uint64_t k = d.sent++;
  const double power = 100.0 + static_cast<double>(k % 2000) * 0.5;
  const double voltage = 225.0 + static_cast<double>(k % 100) * 0.1;
  const double current = power / voltage;
  const double energy = 45678.0 + static_cast<double>(k) * 0.01;
  const int n = std::snprintf(out, cap,
                              R"({"src":"%s","dst":"%s/events","method":"NotifyStatus","params":{"ts":%lld.%03lld,)"
                              R"("switch:0":{"id":0,"apower":%.1f,"voltage":%.1f,"current":%.3f,)"
                              R"("aenergy":{"total":%.3f,"by_minute":[0,0,0],"minute_ts":%lld}}}})",
                              d.id.c_str(), d.id.c_str(), static_cast<long long>(ts / 1000),
                              static_cast<long long>(ts % 1000), power, voltage, current, energy,
                              static_cast<long long>(ts / 60000 * 60));
  return n > 0 ? std::min(static_cast<std::size_t>(n), cap - 1) : 0;
}

std::size_t tasmota_payload(char* out, std::size_t cap, Device& d) {
  const std::uint64_t k = d.sent++;
  const double power = 40.0 + static_cast<double>(k % 1000) * 0.1;
  const double voltage = 228.0 + static_cast<double>(k % 50) * 0.1;
  const double factor = 0.80 + static_cast<double>(k % 20) * 0.01;
  const double current = power / voltage / factor;
  const double total = 12.345 + static_cast<double>(k) * 0.00001;
  const double today = static_cast<double>(k % 100000) * 0.00001;
  const int n = std::snprintf(out, cap,
                              R"({"Time":"2026-12-03T10:00:00","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00",)"
                              R"("Total":%.5f,"Yesterday":1.2,"Today":%.5f,"Power":%.1f,"ApparentPower":%.1f,)"
                              R"("ReactivePower":20,"Factor":%.2f,"Voltage":%.1f,"Current":%.3f}})",
                              total, today, power, power / factor, factor, voltage, current);
  return n > 0 ? std::min(static_cast<std::size_t>(n), cap - 1) : 0;
}

// Counts completions of every publish (one listener for all of them).
class Completions final : public mqtt::iaction_listener {
 public:
  void on_success(const mqtt::token&) override {
    ok.fetch_add(1, std::memory_order_relaxed);
    done();
  }
  void on_failure(const mqtt::token&) override {
    failed.fetch_add(1, std::memory_order_relaxed);
    done();
  }
  std::atomic<std::uint64_t> ok{0}, failed{0};
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> last_done_ns{0};

 private:
  void done() {
    last_done_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    in_flight.fetch_sub(1, std::memory_order_release);
  }
};


struct Result {
  std::uint64_t shelly = 0, tasmota = 0, ok = 0, failed = 0, refused = 0;
  Clock::time_point sent_end, last_done;
  std::string error;
};

std::unique_ptr<mqtt::async_client> make_client(const Options& o, const std::string& client_id) {
  // Paho queues publishes it has not written yet as "buffered" messages (100 at most by default):
  // room for the whole window.
  mqtt::create_options create(MQTTVERSION_3_1_1);
  create.set_max_buffered_messages(o.window + 100);
  return std::make_unique<mqtt::async_client>(o.url, client_id, create, nullptr);
}

mqtt::connect_options connect_options(const Options& o) {
  mqtt::connect_options conn;
  conn.set_clean_session(true);
  conn.set_keep_alive_interval(std::chrono::seconds(30));
  conn.set_max_inflight(std::max(o.window, 10));
  return conn;
}

// One connection's share: from `start` to `stop`, at `rate` messages/s (0: max).
void publish_share(const Options& o, mqtt::async_client& client, std::vector<Device>& shellies,
                   std::vector<Device>& tasmotas, double rate, Clock::time_point start, Clock::time_point stop,
                   Result& r) {
  Completions done;
  char buf[1024];
  const double ns_per_msg = rate > 0 ? 1e9 / rate : 0.0;
  std::size_t si = 0, ti = 0;
  for (std::uint64_t seq = 0;; ++seq) {
    const auto now = Clock::now();
    if (now >= stop) break;
    if (rate > 0) {  // message seq is due at start + seq / rate; never ahead of that
      const auto due = start + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(seq) * ns_per_msg));
      if (due > stop) break;
      if (due > now + std::chrono::microseconds(200)) std::this_thread::sleep_until(due);
    }
    while (done.in_flight.load(std::memory_order_acquire) >= o.window) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      if (Clock::now() >= stop + std::chrono::seconds(30)) break;  // the broker stopped answering
    }
    const bool shelly = tasmotas.empty() || (!shellies.empty() && seq % 2 == 0);
    Device& d = shelly ? shellies[si++ % shellies.size()] : tasmotas[ti++ % tasmotas.size()];
    const std::size_t n = shelly ? shelly_payload(buf, sizeof buf, d) : tasmota_payload(buf, sizeof buf, d);
    done.in_flight.fetch_add(1, std::memory_order_acq_rel);
    try {
      client.publish(d.topic, buf, n, o.qos, false, nullptr, done);
      ++(shelly ? r.shelly : r.tasmota);
    } catch (const mqtt::exception& e) {
      done.in_flight.fetch_sub(1, std::memory_order_acq_rel);
      if (++r.refused == 1) r.error = e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  r.sent_end = Clock::now();
  // Wait for what is still outstanding (at most 30 s).
  while (done.in_flight.load(std::memory_order_acquire) > 0 && Clock::now() < r.sent_end + std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::int64_t last_ns = done.last_done_ns.load();
  r.last_done = last_ns > 0 ? std::max(r.sent_end, Clock::time_point(Clock::duration(last_ns))) : r.sent_end;
  r.ok = done.ok.load();
  r.failed = done.failed.load();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const int k = o.connections;
  std::vector<std::vector<Device>> shellies(k), tasmotas(k);  // per connection
  for (int i = 0; i < o.shelly; ++i) {
    Device d;
    d.shelly = true;
    d.id = device_name("shelly", i);
    d.topic = mqtt::string_ref(d.id + "/events/rpc");
    shellies[i % k].push_back(std::move(d));
  }
  for (int i = 0; i < o.tasmota; ++i) {
    Device d;
    d.id = device_name("tasmota", i);
    d.topic = mqtt::string_ref("tele/" + d.id + "/SENSOR");
    tasmotas[i % k].push_back(std::move(d));
  }

  std::vector<std::unique_ptr<mqtt::async_client>> clients;
  try {
    if (o.announce) {
      clients.push_back(make_client(o, o.client_id));
      clients.back()->connect(connect_options(o))->wait();
    }
  } catch (const mqtt::exception& e) {
    std::fprintf(stderr, "gridlet_mqtt_load: cannot connect to %s: %s\n", o.url.c_str(), e.what());
    return 1;
  }

  if (o.announce) {
    std::vector<mqtt::delivery_token_ptr> tokens;
    for (const auto& share : shellies) {
      for (const auto& d : share) tokens.push_back(clients[0]->publish(d.id + "/online", "true", 4, 1, true));
    }
    for (const auto& share : tasmotas) {
      for (const auto& d : share) {
        tokens.push_back(clients[0]->publish("tele/" + d.id + "/LWT", "Online", 6, 1, true));
      }
    }
    for (auto& t : tokens) t->wait();
    clients[0]->disconnect()->wait();
    std::printf("{\"announced\":%zu}\n", tokens.size());
    return 0;
  }

  // Each connection's share of the rate follows its share of the messages (the devices it has,
  // alternating the two shapes as the whole stream does). Each connection is a process of its own
  // (forked before any Paho client exists): the Paho C library serializes its clients on one
  // process-wide lock, so threads would not add up.
  std::vector<Result> results;
  std::vector<std::pair<pid_t, int>> children;  // pid, read end of its result pipe
  const auto start = Clock::now() + std::chrono::milliseconds(300);  // every connection made by then
  const double start_unix =  // the same instant on the wall clock, for the caller's own timing
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() +
      std::chrono::duration<double>(start - Clock::now()).count();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int c = 0; c < k; ++c) {
    if (shellies[c].empty() && tasmotas[c].empty()) continue;
    const double share = static_cast<double>(shellies[c].size() + tasmotas[c].size()) / (o.shelly + o.tasmota);
    const double rate = o.rate ? *o.rate * share : 0.0;
    int fds[2];
    if (::pipe(fds) != 0) {
      std::perror("gridlet_mqtt_load: pipe");
      return 1;
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("gridlet_mqtt_load: fork");
      return 1;
    }
    if (pid == 0) {
      ::close(fds[0]);
      Result r;
      try {
        auto client = make_client(o, o.client_id + "-" + std::to_string(c));
        client->connect(connect_options(o))->wait();
        std::this_thread::sleep_until(start);
        publish_share(o, *client, shellies[c], tasmotas[c], rate, start, stop, r);
        client->disconnect()->wait_for(std::chrono::seconds(5));
      } catch (const mqtt::exception& e) {
        r.error = std::string("connection ") + std::to_string(c) + ": " + e.what();
        ++r.refused;
        r.sent_end = r.last_done = Clock::now();
      }
      const std::string line = std::to_string(r.shelly) + " " + std::to_string(r.tasmota) + " " +
                               std::to_string(r.ok) + " " + std::to_string(r.failed) + " " +
                               std::to_string(r.refused) + " " +
                               std::to_string(r.sent_end.time_since_epoch().count()) + " " +
                               std::to_string(r.last_done.time_since_epoch().count()) + " " + r.error;
      const bool written = ::write(fds[1], line.data(), line.size()) == static_cast<ssize_t>(line.size());
      ::_exit(written ? 0 : 1);
    }
    ::close(fds[1]);
    children.emplace_back(pid, fds[0]);
  }
  for (const auto& [pid, fd] : children) {
    std::string text;
    char chunk[512];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<std::size_t>(n));
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    Result r;
    unsigned long long v[5] = {};
    long long sent_end = 0, last_done = 0;
    int used = 0;
    if (std::sscanf(text.c_str(), "%llu %llu %llu %llu %llu %lld %lld %n", &v[0], &v[1], &v[2], &v[3], &v[4],
                    &sent_end, &last_done, &used) < 7) {
      r.refused = 1;
      r.error = "a connection's process ended without a result";
      r.sent_end = r.last_done = Clock::now();
    } else {
      r.shelly = v[0];
      r.tasmota = v[1];
      r.ok = v[2];
      r.failed = v[3];
      r.refused = v[4];
      r.sent_end = Clock::time_point(Clock::duration(sent_end));
      r.last_done = Clock::time_point(Clock::duration(last_done));
      r.error = text.substr(static_cast<std::size_t>(used));
    }
    results.push_back(std::move(r));
  }

  Result all;
  all.sent_end = all.last_done = start;
  for (const auto& r : results) {
    all.shelly += r.shelly;
    all.tasmota += r.tasmota;
    all.ok += r.ok;
    all.failed += r.failed;
    all.refused += r.refused;
    all.sent_end = std::max(all.sent_end, r.sent_end);
    all.last_done = std::max(all.last_done, r.last_done);
    if (all.error.empty()) all.error = r.error;
  }
  if (!all.error.empty()) std::fprintf(stderr, "gridlet_mqtt_load: publish: %s\n", all.error.c_str());
  const double publish_s = std::chrono::duration<double>(all.sent_end - start).count();
  const double complete_s = std::chrono::duration<double>(all.last_done - start).count();
  const std::uint64_t sent = all.shelly + all.tasmota;
  char offered[32];
  if (o.rate) {
    std::snprintf(offered, sizeof offered, "%.0f", *o.rate);
  } else {
    std::snprintf(offered, sizeof offered, "\"max\"");
  }
  std::printf(
      "{\"qos\":%d,\"start_unix\":%.6f,\"seconds\":%.3f,\"offered_rate\":%s,\"connections\":%d,\"window\":%d,\"messages\":%llu,"
      "\"shelly_messages\":%llu,\"tasmota_messages\":%llu,\"acknowledged\":%llu,\"failed\":%llu,\"refused\":%llu,"
      "\"publish_seconds\":%.3f,\"complete_seconds\":%.3f,\"publish_rate\":%.0f,\"achieved_rate\":%.0f}\n",
      o.qos, start_unix, o.seconds, offered, k, o.window, static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(all.shelly), static_cast<unsigned long long>(all.tasmota),
      static_cast<unsigned long long>(all.ok), static_cast<unsigned long long>(all.failed),
      static_cast<unsigned long long>(all.refused), publish_s, complete_s,
      publish_s > 0 ? static_cast<double>(sent) / publish_s : 0.0,
      complete_s > 0 ? static_cast<double>(all.ok) / complete_s : 0.0);
  std::fflush(stdout);
  return all.failed == 0 && all.refused == 0 ? 0 : 1;
}
