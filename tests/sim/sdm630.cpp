// Eastron SDM630 (Modbus V2) at the building's connection point. Measurements are IEEE 754
// float32 input registers (function 04), high word first, at the addresses of Eastron's
// protocol document (30001 = address 0x0000, each parameter two registers). Configuration is in
// holding registers (function 03), also float32. Like the real meter it answers at most 80
// registers (40 parameters) per request and refuses more with exception 3.
#include <cmath>

#include "tests/sim/device_kinds.hpp"
#include "tests/sim/registers.hpp"

namespace gridlet::devsim {
namespace {

// Input registers (function 04).
namespace in {
constexpr std::uint16_t kVoltage = 0x0000;        // L1..L3 to neutral, V (3 floats)
constexpr std::uint16_t kCurrent = 0x0006;        // L1..L3, A
constexpr std::uint16_t kPower = 0x000C;          // L1..L3 active power, W (import positive)
constexpr std::uint16_t kApparent = 0x0012;       // L1..L3, VA
constexpr std::uint16_t kReactive = 0x0018;       // L1..L3, var
constexpr std::uint16_t kPowerFactor = 0x001E;    // L1..L3 (sign = direction)
constexpr std::uint16_t kPhaseAngle = 0x0024;     // L1..L3, degrees
constexpr std::uint16_t kAvgVoltage = 0x002A;     // average line to neutral, V
constexpr std::uint16_t kAvgCurrent = 0x002E;     // average line current, A
constexpr std::uint16_t kSumCurrent = 0x0030;     // sum of line currents, A
constexpr std::uint16_t kTotalPower = 0x0034;     // W
constexpr std::uint16_t kTotalApparent = 0x0038;  // VA
constexpr std::uint16_t kTotalReactive = 0x003C;  // var
constexpr std::uint16_t kTotalPf = 0x003E;
constexpr std::uint16_t kTotalAngle = 0x0042;
constexpr std::uint16_t kFrequency = 0x0046;      // Hz
constexpr std::uint16_t kImportKwh = 0x0048;
constexpr std::uint16_t kExportKwh = 0x004A;
constexpr std::uint16_t kImportKvarh = 0x004C;
constexpr std::uint16_t kExportKvarh = 0x004E;
constexpr std::uint16_t kTotalVah = 0x0050;
constexpr std::uint16_t kAh = 0x0052;
constexpr std::uint16_t kPowerDemand = 0x0054;    // total system power demand, W
constexpr std::uint16_t kMaxPowerDemand = 0x0056;
constexpr std::uint16_t kLineToLine = 0x00C8;     // L1-L2, L2-L3, L3-L1, V
constexpr std::uint16_t kAvgLineToLine = 0x00CE;
constexpr std::uint16_t kNeutralCurrent = 0x00E0;
constexpr std::uint16_t kTotalKwh = 0x0156;       // import + export
constexpr std::uint16_t kTotalKvarh = 0x0158;
constexpr std::uint16_t kPhaseImportKwh = 0x015A; // L1..L3
constexpr std::uint16_t kPhaseExportKwh = 0x0160; // L1..L3
constexpr std::uint16_t kPhaseTotalKwh = 0x0166;  // L1..L3
constexpr std::uint32_t kEnd = 0x0180;            // one past the last input register served
}  // namespace in

// Holding registers (function 03).
namespace hold {
constexpr std::uint16_t kDemandPeriod = 0x0002;   // minutes, float; writable
constexpr std::uint16_t kSystemType = 0x000A;     // 3 = 3P4W
constexpr std::uint16_t kParityStop = 0x0012;
constexpr std::uint16_t kNodeAddress = 0x0014;
constexpr std::uint16_t kBaudRate = 0x001C;       // 2 = 9600
constexpr std::uint32_t kConfigEnd = 0x0020;
constexpr std::uint16_t kSerial = 0xFC00;         // uint32
}  // namespace hold

constexpr std::uint16_t kMaxRead = 80;

class Sdm630 final : public Device {
 public:
  Sdm630(std::uint8_t unit, const DeviceContext& ctx) : Device(unit, 65536, in::kEnd), ctx_(ctx) {
    put_f32(holding(), hold::kDemandPeriod, 60.0f);
    put_f32(holding(), hold::kSystemType, 3.0f);
    put_f32(holding(), hold::kParityStop, 0.0f);
    put_f32(holding(), hold::kNodeAddress, static_cast<float>(unit));
    put_f32(holding(), hold::kBaudRate, 2.0f);
    put_u32(holding(), hold::kSerial, 19000000u + unit);
  }

  std::string_view kind() const override { return "sdm630"; }
  std::uint16_t max_read_count() const override { return kMaxRead; }

  bool has_registers(Table table, std::uint16_t address, std::uint16_t count) const override {
    const std::uint32_t end = std::uint32_t{address} + count;
    if (table == Table::kInput) return end <= in::kEnd;
    return end <= hold::kConfigEnd || (address >= hold::kSerial && end <= hold::kSerial + 2u);
  }

  std::uint8_t check_write(std::uint16_t address, std::span<const std::uint16_t> values) const override {
    // Only the demand period is open without the meter's password; one parameter per message.
    if (address != hold::kDemandPeriod || values.size() != 2) return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    const float v = std::bit_cast<float>((std::uint32_t{values[0]} << 16) | values[1]);
    for (const float ok : {0.f, 5.f, 8.f, 10.f, 15.f, 20.f, 30.f, 60.f}) {
      if (v == ok) return 0;
    }
    return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
  }

  void refresh(TimePoint) override {
    const auto& g = ctx_.building->grid();
    auto* r = input();
    float sum_a = 0, sum_v = 0, sum_ll = 0, total_w = 0, total_va = 0;
    for (std::uint16_t p = 0; p < 3; ++p) {
      const auto w = static_cast<float>(g.phase_w[p]);
      const auto v = static_cast<float>(g.phase_v[p]);
      const float a = std::abs(w) / v;  // the SDM630 reports magnitudes; direction is in W and PF
      const auto ll = static_cast<float>((g.phase_v[p] + g.phase_v[(p + 1) % 3]) / 2 * std::sqrt(3.0));
      const auto off = static_cast<std::uint16_t>(2 * p);
      put_f32(r, in::kVoltage + off, v);
      put_f32(r, in::kCurrent + off, a);
      put_f32(r, in::kPower + off, w);
      put_f32(r, in::kApparent + off, std::abs(w));
      put_f32(r, in::kReactive + off, 0.0f);
      put_f32(r, in::kPowerFactor + off, w < 0 ? -1.0f : 1.0f);
      put_f32(r, in::kPhaseAngle + off, 0.0f);
      put_f32(r, in::kLineToLine + off, ll);
      put_f32(r, in::kPhaseImportKwh + off, static_cast<float>(g.phase_import_wh[p] / 1000));
      put_f32(r, in::kPhaseExportKwh + off, static_cast<float>(g.phase_export_wh[p] / 1000));
      put_f32(r, in::kPhaseTotalKwh + off,
              static_cast<float>((g.phase_import_wh[p] + g.phase_export_wh[p]) / 1000));
      sum_a += a;
      sum_v += v;
      sum_ll += ll;
      total_w += w;  // the total is the sum of the phases as sent, so they agree exactly
      total_va += std::abs(w);
    }
    put_f32(r, in::kAvgVoltage, sum_v / 3);
    put_f32(r, in::kAvgCurrent, sum_a / 3);
    put_f32(r, in::kSumCurrent, sum_a);
    put_f32(r, in::kTotalPower, total_w);
    put_f32(r, in::kTotalApparent, total_va);
    put_f32(r, in::kTotalReactive, 0.0f);
    put_f32(r, in::kTotalPf, total_w < 0 ? -1.0f : 1.0f);
    put_f32(r, in::kTotalAngle, 0.0f);
    put_f32(r, in::kFrequency, static_cast<float>(g.frequency_hz));
    put_f32(r, in::kImportKwh, static_cast<float>(g.import_wh / 1000));
    put_f32(r, in::kExportKwh, static_cast<float>(g.export_wh / 1000));
    put_f32(r, in::kImportKvarh, 0.0f);
    put_f32(r, in::kExportKvarh, 0.0f);
    put_f32(r, in::kTotalVah, static_cast<float>((g.import_wh + g.export_wh) / 1000));
    put_f32(r, in::kAh, 0.0f);
    put_f32(r, in::kPowerDemand, total_w);
    max_demand_w_ = std::max(max_demand_w_, total_w);
    put_f32(r, in::kMaxPowerDemand, max_demand_w_);
    put_f32(r, in::kAvgLineToLine, sum_ll / 3);
    put_f32(r, in::kNeutralCurrent, std::abs(static_cast<float>(g.phase_w[0] / g.phase_v[0] - g.phase_w[1] / g.phase_v[1])));
    put_f32(r, in::kTotalKwh, static_cast<float>((g.import_wh + g.export_wh) / 1000));
    put_f32(r, in::kTotalKvarh, 0.0f);
  }

 private:
  DeviceContext ctx_;
  float max_demand_w_ = 0;
};

}  // namespace

std::unique_ptr<Device> make_sdm630(std::uint8_t unit, const DeviceContext& ctx) {
  return std::make_unique<Sdm630>(unit, ctx);
}

}  // namespace gridlet::devsim
