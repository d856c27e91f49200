// SunSpec three-phase grid meter at the building's connection point: 1 (common), 203 (wye meter,
// integer + scale factors). Import is positive. Read-only: every write gets exception 2.
#include <cmath>

#include "tests/sim/device_kinds.hpp"
#include "tests/sim/registers.hpp"
#include "tests/sim/sunspec_device.hpp"

namespace gridlet::devsim {
namespace {

constexpr int kASf = -2, kVSf = -1, kHzSf = -2, kVaSf = 0, kPfSf = -2, kTotWhSf = 0;

class GridMeter final : public SunSpecDevice {
 public:
  GridMeter(std::uint8_t unit, const DeviceContext& ctx) : SunSpecDevice(unit, ctx) {
    layout_.add(1);
    m203_ = &layout_.add(203);
    finish_layout("devsim grid meter", "DS-MTR-" + std::to_string(unit));
  }

  std::string_view kind() const override { return "meter"; }

  void refresh(TimePoint) override {
    const auto& g = ctx_.building->grid();
    const auto& m = *m203_;
    auto* r = holding();
    const char* amps[] = {"AphA", "AphB", "AphC"};
    const char* volts[] = {"PhVphA", "PhVphB", "PhVphC"};
    const char* ll[] = {"PhVphAB", "PhVphBC", "PhVphCA"};
    const char* watts[] = {"WphA", "WphB", "WphC"};
    const char* vas[] = {"VAphA", "VAphB", "VAphC"};
    const char* vars[] = {"VARphA", "VARphB", "VARphC"};
    const char* pfs[] = {"PFphA", "PFphB", "PFphC"};
    const char* imp[] = {"TotWhImpPhA", "TotWhImpPhB", "TotWhImpPhC"};
    const char* exp[] = {"TotWhExpPhA", "TotWhExpPhB", "TotWhExpPhC"};
    double amps_total = 0, v_sum = 0, ll_sum = 0;
    for (std::size_t p = 0; p < 3; ++p) {
      // Signed current: negative while exporting, as SunSpec meters report it.
      const double a = g.phase_w[p] / g.phase_v[p];
      amps_total += a;
      v_sum += g.phase_v[p];
      const double v_ll = (g.phase_v[p] + g.phase_v[(p + 1) % 3]) / 2 * std::sqrt(3.0);
      ll_sum += v_ll;
      put_i16(r, m.at(amps[p]), scale_i16(a, kASf));
      put_i16(r, m.at(volts[p]), scale_i16(g.phase_v[p], kVSf));
      put_i16(r, m.at(ll[p]), scale_i16(v_ll, kVSf));
      put_i16(r, m.at(watts[p]), scale_i16(g.phase_w[p], power_sf()));
      put_i16(r, m.at(vas[p]), scale_i16(std::abs(g.phase_w[p]), kVaSf));
      put_i16(r, m.at(vars[p]), 0);
      put_i16(r, m.at(pfs[p]), scale_i16(g.phase_w[p] < 0 ? -100.0 : 100.0, kPfSf));
      put_u32(r, m.at(imp[p]), scale_acc32(g.phase_import_wh[p], kTotWhSf));
      put_u32(r, m.at(exp[p]), scale_acc32(g.phase_export_wh[p], kTotWhSf));
    }
    put_i16(r, m.at("A"), scale_i16(amps_total, kASf));
    put_i16(r, m.at("A_SF"), kASf);
    put_i16(r, m.at("PhV"), scale_i16(v_sum / 3, kVSf));
    put_i16(r, m.at("PPV"), scale_i16(ll_sum / 3, kVSf));
    put_i16(r, m.at("V_SF"), kVSf);
    put_i16(r, m.at("Hz"), scale_i16(g.frequency_hz, kHzSf));
    put_i16(r, m.at("Hz_SF"), kHzSf);
    put_i16(r, m.at("W"), scale_i16(g.power_w, power_sf()));
    put_i16(r, m.at("W_SF"), static_cast<std::int16_t>(power_sf()));
    put_i16(r, m.at("VA"), scale_i16(std::abs(g.power_w), kVaSf));
    put_i16(r, m.at("VA_SF"), kVaSf);
    put_i16(r, m.at("VAR"), 0);
    put_i16(r, m.at("VAR_SF"), kVaSf);
    put_i16(r, m.at("PF"), scale_i16(g.power_w < 0 ? -100.0 : 100.0, kPfSf));
    put_i16(r, m.at("PF_SF"), kPfSf);
    put_u32(r, m.at("TotWhImp"), scale_acc32(g.import_wh, kTotWhSf));
    put_u32(r, m.at("TotWhExp"), scale_acc32(g.export_wh, kTotWhSf));
    put_i16(r, m.at("TotWh_SF"), kTotWhSf);
    put_u32(r, m.at("Evt"), 0);
  }

 private:
  const PlacedModel* m203_ = nullptr;
};

}  // namespace

std::unique_ptr<Device> make_grid_meter(std::uint8_t unit, const DeviceContext& ctx) {
  return std::make_unique<GridMeter>(unit, ctx);
}

}  // namespace gridlet::devsim
