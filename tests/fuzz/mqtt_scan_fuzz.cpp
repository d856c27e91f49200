// Fuzzes the MQTT scan (adapters/mqtt/scan.hpp). Input: a topic, '\n', then the payload (no '\n':
// all of it is the topic). The message is classified on its own topic and, as a Shelly's answer to
// requests the inventory made, on the scan's reply topic. Any bytes give a classification and
// never a crash; a problem means a known topic and no findings; the JSON output is one JSON array
// and the config snippet always loads as a gatewayd configuration (valid ids, topic ids, TOML).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "adapters/mqtt/scan.hpp"
#include "gateway/config/config.hpp"

using namespace gridlet::adapters::mqtt::scan;

namespace {

constexpr std::string_view kSrc = "gridlet-scan-fuzz";

void check(const Classification& c) {
  if (!c.problem.empty() && (!c.known || !c.findings.empty())) std::abort();
  if (!c.findings.empty() && !c.known) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\n');
  const std::string_view topic = input.substr(0, split);
  const std::string_view payload = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  check(classify(topic, payload, kSrc));
  check(classify(topic, payload, ""));

  Inventory inv{std::string(kSrc)};
  inv.add("shellypro3em-c8f09e8a1b2c/online", "true");
  const auto requests = inv.take_requests();
  if (requests.size() != 2) std::abort();
  check(inv.add(topic, payload));
  check(inv.add(std::string(kSrc) + "/rpc", payload));  // as the answer to a request made
  (void)inv.take_requests();
  if (inv.stats().messages != 3 || inv.stats().bad > 3 || inv.stats().used + inv.stats().bad > 3) std::abort();

  const auto devices = inv.devices();
  for (const auto& d : devices) {
    if (d.kind.empty()) std::abort();
    if (d.preset.empty() && d.why.empty()) std::abort();  // every device without a preset says why
  }
  const auto doc = nlohmann::json::parse(to_json(devices), nullptr, false);
  if (!doc.is_array() || doc.size() != devices.size()) std::abort();

  BrokerInfo broker;
  broker.url = "mqtt://127.0.0.1:1883";
  broker.listened = std::chrono::seconds(10);
  (void)to_table(devices, inv.stats(), broker);
  const std::string snippet = to_config_snippet(devices, inv.stats(), broker, "mqtt1");
  const auto loaded = gridlet::config::load_config_string("[site]\nid = \"fuzz\"\n" + snippet, "snippet");
  if (!loaded.errors.empty()) std::abort();
  return 0;
}
