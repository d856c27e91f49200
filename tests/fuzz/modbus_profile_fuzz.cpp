// Fuzzes the device profile loader: any bytes give either a Profile or errors, never a crash,
// every error has a place, and a loaded profile always yields a read plan without crashing.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "adapters/modbus/profile.hpp"
#include "adapters/modbus/read_plan.hpp"

using namespace gridlet::adapters::modbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = load_profile_string(text, "fuzz.toml");
  if (result.profile.has_value() == !result.errors.empty()) std::abort();
  for (const auto& e : result.errors) {
    if (e.file != "fuzz.toml" || e.line < 1 || e.column < 1 || e.message.empty()) std::abort();
  }
  if (result.profile) {
    const Profile& p = *result.profile;
    std::vector<std::size_t> all(p.points.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    std::vector<std::size_t> idx;
    const auto spans = p.read_spans(all, idx);
    if (spans.size() != idx.size()) std::abort();
    (void)plan_reads(spans, p.plan_options());
  }
  return 0;
}
