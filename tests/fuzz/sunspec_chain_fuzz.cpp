// Fuzzes SunSpec discovery and block decoding: the input is a device's register image. Discovery
// must end (bounded requests), never read more than 125 registers at once or past register 65535,
// and report models in increasing, in-range addresses; decoding must stay inside the block.
//
// Input layout: byte 0 = flags (bits 0-1: where the image starts: 40000, 0, 50000, or the address
// in bytes 1-2; bit 2: write "SunS" at the start so the walk is reached at once; bits 3-5: if
// non-zero, every Nth read times out), bytes 1-2 = address, then the registers, big-endian.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "adapters/modbus/sunspec_discovery.hpp"
#include "adapters/modbus/sunspec_models.hpp"

namespace {

using gridlet::adapters::sunspec::ReadStatus;

class ImageReader : public gridlet::adapters::sunspec::RegisterReader {
 public:
  ImageReader(std::uint32_t start, std::vector<std::uint16_t> regs, unsigned timeout_every)
      : start_(start), regs_(std::move(regs)), timeout_every_(timeout_every) {}

  ReadStatus read_holding(std::uint16_t address, std::uint16_t count,
                          std::span<std::uint16_t> out) override {
    ++requests;
    if (requests > 100000) std::abort();  // discovery does not end
    if (count == 0 || count > gridlet::adapters::sunspec::kMaxRegistersPerRead ||
        address + static_cast<std::uint32_t>(count) > 0x10000U || out.size() < count) {
      std::abort();
    }
    if (timeout_every_ != 0 && requests % timeout_every_ == 0) return ReadStatus::timeout();
    if (address < start_ || address + count > start_ + regs_.size()) {
      return ReadStatus::exception(2);
    }
    for (std::uint16_t i = 0; i < count; ++i) out[i] = regs_[address - start_ + i];
    return ReadStatus::ok();
  }

  std::size_t requests = 0;

 private:
  std::uint32_t start_;
  std::vector<std::uint16_t> regs_;
  unsigned timeout_every_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ss = gridlet::adapters::sunspec;
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const auto given = static_cast<std::uint16_t>((data[1] << 8) | data[2]);
  static constexpr std::uint16_t kBases[] = {40000, 0, 50000};
  const std::uint32_t start = (flags & 3U) == 3U ? given : kBases[flags & 3U];

  std::vector<std::uint16_t> regs;
  if ((flags & 4U) != 0) {
    regs.push_back(ss::kSunSpecMarker0);
    regs.push_back(ss::kSunSpecMarker1);
  }
  for (std::size_t i = 3; i + 1 < size; i += 2) {
    regs.push_back(static_cast<std::uint16_t>((data[i] << 8) | data[i + 1]));
  }
  if (start + regs.size() > 0x10000U) regs.resize(0x10000U - start);

  ImageReader reader(start, regs, (flags >> 3) & 7U);
  ss::DiscoveryOptions options;
  options.base_addresses = {40000, 0, 50000, given};
  const ss::DiscoveryResult r = ss::discover(reader, options);

  if (r.models.size() > options.max_models) std::abort();
  if (r.requests != reader.requests) std::abort();
  std::uint32_t next = r.base ? *r.base + 2U : 0;
  for (const auto& m : r.models) {
    if (m.address != next) std::abort();
    if (m.address + 2U + m.length > 0x10000U) std::abort();
    if (m.known != (ss::find_model(m.id) != nullptr)) std::abort();
    next = m.address + 2U + m.length;
  }
  if (r.complete() != (r.end_marker_found && r.base.has_value())) std::abort();

  // Decode what was found (as a poller would), within the block.
  std::vector<std::uint16_t> block;
  for (const auto& m : r.models) {
    const ss::ModelDef* def = ss::find_model(m.id);
    if (def == nullptr || !ss::read_model(reader, m, block).is_ok()) continue;
    const ss::DecodedModel d = ss::decode_model(*def, block);
    for (const auto& p : d.points) {
      if (p.present && p.offset + p.def->size > block.size()) std::abort();
      if (p.value && p.def->sf.empty() == false && !p.scale_factor) std::abort();
    }
  }
  return 0;
}
