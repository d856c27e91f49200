// Fuzzes the API's handling of a request's outside bytes: method, target (path, percent-encoding,
// query: from/to/step), the Authorization header and the body (sample JSON, setpoint JSON), through
// the real Router with real tokens. Every request must get exactly one well-formed JSON or text
// answer. The device side of setpoints answers at once with the outcome the command's value
// selects, so every answer path of the setpoint routes is reached.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "gateway/api/device_service.hpp"
#include "gateway/api/router.hpp"
#include "gateway/config/config.hpp"
#include "adapters/clock.hpp"
#include "gateway/runtime/device_registry.hpp"
#include "gateway/runtime/point_store.hpp"

namespace {

using namespace gridlet;

// The device side: one device, "pv1", whose commands end with the outcome their value selects.
class FakeDevices final : public api::DeviceService {
 public:
  std::vector<Bus> buses() const override { return {}; }
  std::optional<Controls> controls(const std::string& id) const override {
    if (id != "pv1") return std::nullopt;
    return Controls{};
  }
  bool set(const std::string& id, adapters::SetpointCommand cmd, ControlDone done) override {
    if (id != "pv1") return false;
    adapters::ControlEvent ev;
    ev.device = id;
    ev.point = cmd.point;
    ev.value = cmd.value;
    ev.actor = cmd.actor;
    ev.reason = cmd.reason;  // request bytes, echoed in the answer
    ev.outcome = static_cast<adapters::ControlOutcome>(static_cast<int>(std::fmod(std::abs(cmd.value), 5.0)));
    ev.detail = cmd.reason;
    done(ev);
    return true;
  }
  bool release(const std::string& id, const std::string& point, const std::string& actor,
               const std::string& reason, ControlDone done) override {
    if (id != "pv1") return false;
    adapters::ControlEvent ev;
    ev.device = id;
    ev.point = point;
    ev.actor = actor;
    ev.reason = reason;
    ev.action = adapters::ControlAction::kRelease;
    done(ev);
    return true;
  }
};

struct World {
  World() : points(clock) {
    const auto dir = std::filesystem::temp_directory_path() / ("gridlet-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto file = dir / "tokens";
    std::filesystem::remove(file);
    std::string error;
    for (const char* role : {"viewer", "installer", "manager", "aggregator"}) {
      tokens_text.push_back(*api::TokenStore::create(file, *api::parse_role(role), role, &error));
    }
    tokens = api::TokenStore::load(file, &error);
    std::filesystem::remove_all(dir);
    config::DeviceConfig d;
    d.id = "pv1";
    d.bus = "lan";
    d.profile = "sunspec";
    cfg.devices.push_back(d);
    devices.load(cfg.devices);
    points.update({"pv1", "W", "W", 1.0, adapters::Quality::kGood, 1});
    api::ApiContext ctx;
    ctx.config = &cfg;
    ctx.clock = &clock;
    ctx.devices = &devices;
    ctx.points = &points;
    ctx.tokens = tokens.get();
    ctx.version = "fuzz";
    ctx.device_service = &devices_service;
    // Executors run inline: the store is absent, so nothing blocks.
    router = std::make_unique<api::Router>(
        ctx, api::Router::Executors{[](api::Router::Task t) { t(); }, [](api::Router::Task t) { t(); },
                                    [](api::Router::Task t) { t(); }});
  }
  adapters::ManualClock clock;
  FakeDevices devices_service;
  config::Config cfg;
  runtime::DeviceRegistry devices;
  runtime::PointStore points;
  std::vector<std::string> tokens_text;
  std::unique_ptr<api::TokenStore> tokens;
  std::unique_ptr<api::Router> router;
};

// Takes bytes up to the next '\n' (or the end).
std::string take_line(std::string_view& in) {
  const auto nl = in.find('\n');
  std::string out(in.substr(0, nl));
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  api::Request req;
  req.method = take_line(in);
  req.target = take_line(in);
  std::string auth = take_line(in);
  // A leading digit picks a real token of that role, so authorized paths are reached too.
  if (!auth.empty() && auth[0] >= '0' && auth[0] <= '3') {
    auth = "Bearer " + world.tokens_text[static_cast<std::size_t>(auth[0] - '0')];
  }
  req.authorization = auth;
  req.content_type = "application/json";
  req.body = std::string(in);
  int answers = 0;
  world.router->handle(req, [&](api::Response r) {
    ++answers;
    if (r.status < 200 || r.status > 599) std::abort();
    if (r.content_type == "application/json" && !nlohmann::json::accept(r.body)) std::abort();
  });
  if (answers != 1) std::abort();
  return 0;
}
