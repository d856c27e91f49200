// devsim: a small building of Modbus devices (SunSpec 1xx and 7xx DER inverters, battery and grid
// meter, Eastron SDM630) behind unit ids, over Modbus TCP and/or RTU, for integration tests and the demo.
// See tests/sim/README.md for the command line and the fault-injection registers.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/servers.hpp"
#include "tests/sim/simulator.hpp"

namespace {

using namespace gridlet::devsim;

int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const char c = 's';
  [[maybe_unused]] const auto n = ::write(g_stop_pipe[1], &c, 1);  // async-signal-safe
}

void say(const std::string& line) {
  std::printf("devsim: %s\n", line.c_str());
  std::fflush(stdout);  // tests read these lines through a pipe
}

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "UNIT=VALUE"
std::optional<std::pair<std::uint8_t, std::string>> split_unit(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos) return std::nullopt;
  const auto unit = to_int(std::string_view(arg).substr(0, eq));
  if (!unit || *unit < 1 || *unit > 247) return std::nullopt;
  return std::pair{static_cast<std::uint8_t>(*unit), arg.substr(eq + 1)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "devsim: simulated Modbus devices of a small building (SunSpec 1xx/7xx and SDM630); see tests/sim/README.md"};
  std::string tcp;
  SerialSettings serial;
  std::string parity = "N";
  std::vector<std::string> devices;
  std::vector<std::string> faults;
  SimulatorConfig config;
  int setpoint_delay_ms = 500;
  int heartbeat_timeout_s = 30;
  app.add_option("--tcp", tcp, "Modbus TCP listen address HOST:PORT (port 0 = any free port)");
  app.add_option("--rtu", serial.path, "Modbus RTU serial device (e.g. one end of a socat pty pair)");
  app.add_option("--baud", serial.baud, "RTU baud rate")->check(CLI::Range(300, 921600));
  app.add_option("--parity", parity, "RTU parity N, E or O")->check(CLI::IsMember({"N", "E", "O"}));
  app.add_option("--stop-bits", serial.stop_bits, "RTU stop bits")->check(CLI::Range(1, 2));
  app.add_option("--device", devices, "UNIT=KIND, KIND one of inverter (SunSpec 1,103,120,123,160), der (SunSpec DER "
                 "1,701,702,704,715), battery (1,124,713,802), meter (1,203), sdm630 (Eastron floats)")->required();
  app.add_option("--speed", config.speed, "simulated seconds per real second (physics only)")
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--seed", config.physics.seed, "seed of the simulated weather and load");
  app.add_option("--start-hour", config.physics.start_hour, "local simulated time at start, hours")
      ->check(CLI::Range(0.0, 24.0));
  app.add_option("--pv-peak-w", config.physics.pv_peak_w, "PV peak (and inverter rating) per inverter, W")
      ->check(CLI::Range(100.0, 30000.0));
  app.add_option("--battery-wh", config.physics.battery_capacity_wh, "battery capacity, Wh")
      ->check(CLI::Range(1000.0, 60000.0));
  app.add_option("--battery-max-w", config.physics.battery_max_w, "battery charge/discharge limit, W")
      ->check(CLI::Range(100.0, 30000.0));
  app.add_option("--setpoint-delay-ms", setpoint_delay_ms, "delay before a written setpoint takes effect")
      ->check(CLI::Range(0, 600000));
  app.add_option("--heartbeat-timeout", heartbeat_timeout_s,
                 "seconds without a change of the controller heartbeat (715 ControllerHb, 802 CtrlHb), once "
                 "it has changed, before the device goes to its fail-safe; 0 = no watchdog")
      ->check(CLI::Range(0, 86400));
  app.add_option("--fault", faults,
                 "UNIT=MODE start state: none, timeout, exception:N, malformed, wrong-tid, ignore-writes, "
                 "disappear:S, delay:MS, w-sf:N");
  CLI11_PARSE(app, argc, argv);
  serial.parity = parity[0];
  config.setpoint_delay = std::chrono::milliseconds(setpoint_delay_ms);
  config.heartbeat_timeout = std::chrono::seconds(heartbeat_timeout_s);
  if (tcp.empty() && serial.path.empty()) {
    std::fprintf(stderr, "devsim: give --tcp and/or --rtu\n");
    return 2;
  }

  const auto start = Clock::now();
  Simulator sim(config, start);
  for (const auto& d : devices) {
    const auto spec = split_unit(d);
    if (!spec || !sim.add_device(spec->first, spec->second)) {
      std::fprintf(stderr, "devsim: bad --device '%s' (UNIT 1-247, once each; KIND inverter|der|battery|meter|sdm630)\n",
                   d.c_str());
      return 2;
    }
    say("unit " + std::to_string(spec->first) + " " + spec->second);
  }
  for (const auto& f : faults) {
    const auto spec = split_unit(f);
    bool ok = spec.has_value();
    if (ok) {
      const std::string_view mode = spec->second;
      try {
        if (mode.starts_with("delay:")) {
          const auto ms = to_int(mode.substr(6));
          ok = ms && *ms >= 0 && *ms <= 60000;
          if (ok) sim.set_delay_ms(spec->first, static_cast<std::uint16_t>(*ms));
        } else if (mode.starts_with("w-sf:")) {
          // Same path as a write of the fault block, so the same checks apply.
          const auto sf = to_int(mode.substr(5));
          ok = sf && *sf >= -6 && *sf <= 6 && sim.set_power_sf(spec->first, *sf);
        } else if (const auto m = parse_fault_mode(mode)) {
          sim.set_fault(spec->first, m->first, m->second, start);
        } else {
          ok = false;
        }
      } catch (const std::out_of_range&) {
        ok = false;  // no such unit
      }
    }
    if (!ok) {
      std::fprintf(stderr, "devsim: bad --fault '%s'\n", f.c_str());
      return 2;
    }
  }
  say("seed " + std::to_string(config.physics.seed));

  if (::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  RtuServer rtu;
  std::thread rtu_thread;
  if (!serial.path.empty()) {
    if (!rtu.open(serial)) {
      std::fprintf(stderr, "devsim: cannot open %s: %s\n", serial.path.c_str(), modbus_strerror(errno));
      return 1;
    }
    say("listening rtu " + serial.path);
  }
  TcpServer tcp_server;
  if (!tcp.empty()) {
    const auto colon = tcp.rfind(':');
    const auto port = colon == std::string::npos ? std::nullopt : to_int(std::string_view(tcp).substr(colon + 1));
    if (!port || *port < 0 || *port > 65535) {
      std::fprintf(stderr, "devsim: bad --tcp '%s' (HOST:PORT)\n", tcp.c_str());
      return 2;
    }
    const std::string host = tcp.substr(0, colon);
    if (!tcp_server.listen(host, *port)) {
      std::fprintf(stderr, "devsim: cannot listen on %s: %s\n", tcp.c_str(), modbus_strerror(errno));
      return 1;
    }
    say("listening tcp " + host + ":" + std::to_string(tcp_server.port()));
  }

  if (!serial.path.empty()) rtu_thread = std::thread([&] { rtu.run(sim, g_stop_pipe[0]); });
  if (!tcp.empty()) {
    tcp_server.run(sim, g_stop_pipe[0]);
  } else {
    pollfd p{g_stop_pipe[0], POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
  }
  if (rtu_thread.joinable()) rtu_thread.join();
  say("stopped");
  return 0;
}
