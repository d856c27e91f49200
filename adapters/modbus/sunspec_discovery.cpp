#include "adapters/modbus/sunspec_discovery.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <string>

namespace gridlet::adapters::sunspec {
namespace {

constexpr std::uint32_t kAddressSpace = 0x10000;  // registers 0..65535
constexpr int kMinScaleFactor = -10;              // SunSpec's range for sunssf values
constexpr int kMaxScaleFactor = 10;

std::uint16_t clamp_per_read(std::uint16_t max_per_read) {
  return std::clamp<std::uint16_t>(max_per_read, 1, kMaxRegistersPerRead);
}

// read_registers, counting the requests it issues.
ReadStatus read_counted(RegisterReader& reader, std::uint32_t address, std::uint32_t count,
                        std::vector<std::uint16_t>& out, std::uint16_t max_per_read,
                        std::size_t& requests) {
  out.assign(count, 0);
  // What a Modbus device answers for a range it does not have: illegal data address.
  if (address + count > kAddressSpace) return ReadStatus::exception(2);
  const std::uint16_t chunk = clamp_per_read(max_per_read);
  std::uint32_t done = 0;
  while (done < count) {
    const auto n = static_cast<std::uint16_t>(std::min<std::uint32_t>(chunk, count - done));
    ++requests;
    const ReadStatus s = reader.read_holding(static_cast<std::uint16_t>(address + done), n,
                                             std::span<std::uint16_t>(out).subspan(done, n));
    if (!s.is_ok()) return s;
    done += n;
  }
  return ReadStatus::ok();
}

std::string trim_text(std::span<const std::uint16_t> regs) {
  std::string s;
  s.reserve(regs.size() * 2);
  for (const std::uint16_t r : regs) {
    s.push_back(static_cast<char>(r >> 8));
    s.push_back(static_cast<char>(r & 0xFF));
  }
  // A string ends at its first NUL; trailing spaces are padding.
  if (const auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

bool is_missing(PointType type, std::uint64_t raw) {
  switch (type) {
    case PointType::kInt16:
    case PointType::kSunssf:
      return raw == 0x8000;
    case PointType::kUint16:
    case PointType::kEnum16:
    case PointType::kBitfield16:
    case PointType::kCount:
      return raw == 0xFFFF;
    case PointType::kInt32:
      return raw == 0x80000000U;
    case PointType::kUint32:
    case PointType::kEnum32:
    case PointType::kBitfield32:
      return raw == 0xFFFFFFFFU;
    case PointType::kInt64:
      return raw == 0x8000000000000000ULL;
    case PointType::kUint64:
    case PointType::kBitfield64:
      return raw == 0xFFFFFFFFFFFFFFFFULL;
    case PointType::kFloat32:
      return std::isnan(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
    case PointType::kFloat64:
      return std::isnan(std::bit_cast<double>(raw));
    case PointType::kIpaddr:
    case PointType::kEui48:
      return raw == 0;
    case PointType::kAcc16:  // accumulators: 0 is a legitimate count
    case PointType::kAcc32:
    case PointType::kAcc64:
    case PointType::kString:  // decided on the text
    case PointType::kIpv6addr:
    case PointType::kPad:
      return false;
  }
  return true;
}

// The number a present point stands for, before scaling; nullopt for non-numeric types.
std::optional<double> raw_number(PointType type, std::uint64_t raw) {
  switch (type) {
    case PointType::kInt16:
    case PointType::kSunssf:
      return static_cast<double>(static_cast<std::int16_t>(static_cast<std::uint16_t>(raw)));
    case PointType::kInt32:
      return static_cast<double>(static_cast<std::int32_t>(static_cast<std::uint32_t>(raw)));
    case PointType::kInt64:
      return static_cast<double>(static_cast<std::int64_t>(raw));
    case PointType::kFloat32:
      return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
    case PointType::kFloat64:
      return std::bit_cast<double>(raw);
    case PointType::kUint16:
    case PointType::kUint32:
    case PointType::kUint64:
    case PointType::kAcc16:
    case PointType::kAcc32:
    case PointType::kAcc64:
    case PointType::kEnum16:
    case PointType::kEnum32:
    case PointType::kBitfield16:
    case PointType::kBitfield32:
    case PointType::kBitfield64:
    case PointType::kCount:
      return static_cast<double>(raw);
    case PointType::kString:
    case PointType::kPad:
    case PointType::kIpaddr:
    case PointType::kIpv6addr:
    case PointType::kEui48:
      return std::nullopt;
  }
  return std::nullopt;
}

// Walks a model block group by group. Each frame is one group instance being decoded; scale factor
// and count points are looked up from the innermost instance outwards.
class BlockDecoder {
 public:
  BlockDecoder(std::span<const std::uint16_t> block, DecodedModel& out)
      : block_(block), out_(out) {}

  std::uint32_t instance(const GroupDef& g, std::uint32_t base, const std::string& prefix) {
    frames_.push_back({&g, base});
    for (const PointDef& p : g.points) {
      if (p.type != PointType::kPad) decode_point(p, base + p.offset, prefix + std::string(p.name));
    }
    std::uint32_t pos = base + g.points_length;
    for (const GroupDef& sub : g.groups) {
      const std::string name = prefix + std::string(sub.name);
      switch (sub.repeat) {
        case GroupRepeat::kOnce:
          pos += instance(sub, pos, name + ".");
          break;
        case GroupRepeat::kByCountPoint: {
          const std::optional<std::uint64_t> n = lookup(sub.count_point, PointType::kUint16);
          if (!n) {
            note(DecodeIssue::kBadCount);
            break;
          }
          for (std::uint64_t i = 0; i < *n; ++i) {
            if (pos >= block_.size()) {
              note(DecodeIssue::kShortBlock);
              break;
            }
            const std::uint32_t used = instance(sub, pos, name + "[" + std::to_string(i) + "].");
            if (used == 0) break;  // an empty group cannot advance: stop rather than spin
            pos += used;
          }
          break;
        }
        case GroupRepeat::kFillModel:
          for (std::uint64_t i = 0; pos < block_.size(); ++i) {
            if (sub.points_length == 0) break;
            if (pos + sub.points_length > block_.size()) {
              note(DecodeIssue::kPartialRepeat);
              break;
            }
            pos += instance(sub, pos, name + "[" + std::to_string(i) + "].");
          }
          break;
      }
    }
    frames_.pop_back();
    return pos - base;
  }

  void note(DecodeIssue issue) {
    if (out_.issue == DecodeIssue::kNone) out_.issue = issue;
  }

 private:
  struct Frame {
    const GroupDef* group;
    std::uint32_t base;
  };

  // The raw registers of a point, if it lies wholly inside the block.
  std::optional<std::span<const std::uint16_t>> registers(std::uint32_t offset,
                                                          std::uint16_t size) const {
    if (offset + size > block_.size()) return std::nullopt;
    return block_.subspan(offset, size);
  }

  static std::uint64_t combine(std::span<const std::uint16_t> regs) {
    std::uint64_t raw = 0;
    for (const std::uint16_t r : regs) raw = (raw << 16) | r;
    return raw;
  }

  // Raw value of the nearest point named `name` (innermost instance first), if present.
  std::optional<std::uint64_t> lookup(std::string_view name, PointType type) const {
    for (auto f = frames_.rbegin(); f != frames_.rend(); ++f) {
      const PointDef* p = find_point(*f->group, name);
      if (p == nullptr) continue;
      const auto regs = registers(f->base + p->offset, p->size);
      if (!regs || p->size > 4) return std::nullopt;
      const std::uint64_t raw = combine(*regs);
      if (is_missing(type, raw)) return std::nullopt;
      return raw;
    }
    return std::nullopt;
  }

  void decode_point(const PointDef& p, std::uint32_t offset, std::string path) {
    DecodedPoint d;
    d.path = std::move(path);
    d.def = &p;
    d.offset = offset;
    const auto regs = registers(offset, p.size);
    if (!regs) {
      note(DecodeIssue::kShortBlock);
      out_.points.push_back(std::move(d));
      return;
    }
    if (p.type == PointType::kString) {
      const bool all_zero = std::all_of(regs->begin(), regs->end(), [](auto r) { return r == 0; });
      d.present = !all_zero;
      if (d.present) d.text = trim_text(*regs);
      out_.points.push_back(std::move(d));
      return;
    }
    if (p.size > 4) {  // ipv6addr: present unless all zero; no number
      d.present = std::any_of(regs->begin(), regs->end(), [](auto r) { return r != 0; });
      out_.points.push_back(std::move(d));
      return;
    }
    d.raw = combine(*regs);
    d.present = !is_missing(p.type, d.raw);
    if (!p.sf.empty()) {
      if (const auto sf = lookup(p.sf, PointType::kSunssf)) {
        const int exponent = static_cast<std::int16_t>(static_cast<std::uint16_t>(*sf));
        if (exponent >= kMinScaleFactor && exponent <= kMaxScaleFactor) {
          d.scale_factor = static_cast<std::int8_t>(exponent);
        }
      }
    }
    if (d.present) {
      const std::optional<double> number = raw_number(p.type, d.raw);
      if (number && (p.sf.empty() || d.scale_factor)) {
        d.value = d.scale_factor ? *number * std::pow(10.0, *d.scale_factor) : *number;
      }
    }
    out_.points.push_back(std::move(d));
  }

  std::span<const std::uint16_t> block_;
  DecodedModel& out_;
  std::vector<Frame> frames_;
};

LengthCheck check_length(const ModelDef* def, std::uint16_t length,
                         std::optional<std::uint16_t>& repeats) {
  if (def == nullptr) return LengthCheck::kUnknownModel;
  switch (def->length_rule) {
    case LengthRule::kFixed:
      return length == def->fixed_length ? LengthCheck::kOk : LengthCheck::kMismatch;
    case LengthRule::kFillRepeats: {
      if (length < def->fixed_length) return LengthCheck::kTooShort;
      const auto rest = static_cast<std::uint16_t>(length - def->fixed_length);
      if (def->repeat_length == 0) return LengthCheck::kOk;
      repeats = static_cast<std::uint16_t>(rest / def->repeat_length);
      return rest % def->repeat_length == 0 ? LengthCheck::kOk : LengthCheck::kPartialRepeat;
    }
    case LengthRule::kCountPoints:
      return length < def->fixed_length ? LengthCheck::kTooShort : LengthCheck::kOk;
  }
  return LengthCheck::kUnknownModel;
}

// Where the points of one model instance lie, worked out from the model definition and the
// registers read so far: repeat counts (705 NCrv, NPt, ...) are registers of the model itself, so
// the layout past a count that has not been read yet is unknown. Mirrors BlockDecoder's walk.
class LayoutWalker {
 public:
  // `known`: the first registers of the instance (from its ID register on); `total`: 2 + L.
  LayoutWalker(std::span<const std::uint16_t> known, std::uint32_t total)
      : known_(known), total_(total), inside_(total, false) {}

  void walk(const GroupDef& top) {
    instance(top, 0);
    std::sort(checked_.begin(), checked_.end());
    checked_.erase(std::unique(checked_.begin(), checked_.end()), checked_.end());
  }

  // True when a request may not start at `offset`: it is the second or later register of a point.
  bool inside_point(std::uint32_t offset) const { return offset < total_ && inside_[offset]; }
  // False when a repeat count lies in registers not read yet: the layout after it is unknown.
  bool complete() const { return !stopped_; }
  // Registers (single-register points) the values depend on: every sunssf point and every count
  // that sets how many instances of a group follow. Sorted, no duplicates.
  const std::vector<std::uint32_t>& checked() const { return checked_; }

 private:
  struct Frame {
    const GroupDef* group;
    std::uint32_t base;
  };

  std::uint32_t instance(const GroupDef& g, std::uint32_t base) {
    frames_.push_back({&g, base});
    for (const PointDef& p : g.points) mark(p, base + p.offset);
    std::uint32_t pos = base + g.points_length;
    for (const GroupDef& sub : g.groups) {
      if (stopped_ || pos >= total_) break;
      switch (sub.repeat) {
        case GroupRepeat::kOnce:
          pos += instance(sub, pos);
          break;
        case GroupRepeat::kByCountPoint: {
          const std::uint64_t n = count(sub.count_point);
          for (std::uint64_t i = 0; i < n && !stopped_ && pos < total_; ++i) {
            const std::uint32_t used = instance(sub, pos);
            if (used == 0) break;  // an empty group cannot advance
            pos += used;
          }
          break;
        }
        case GroupRepeat::kFillModel:
          if (sub.points_length == 0) break;
          while (!stopped_ && pos + sub.points_length <= total_) pos += instance(sub, pos);
          break;
      }
    }
    frames_.pop_back();
    return pos - base;
  }

  void mark(const PointDef& p, std::uint32_t offset) {
    if (p.type == PointType::kSunssf && offset < total_) checked_.push_back(offset);
    for (std::uint32_t k = 1; k < p.size && offset + k < total_; ++k) inside_[offset + k] = true;
  }

  // Instances of a counted group, as decode_model will see them (a missing count: none). Stops
  // the walk when the count has not been read yet.
  std::uint64_t count(std::string_view name) {
    for (auto f = frames_.rbegin(); f != frames_.rend(); ++f) {
      const PointDef* p = find_point(*f->group, name);
      if (p == nullptr) continue;
      const std::uint32_t offset = f->base + p->offset;
      if (p->size == 0 || p->size > 4 || offset + p->size > total_) return 0;
      if (offset + p->size > known_.size()) {
        stopped_ = true;
        return 0;
      }
      std::uint64_t raw = 0;
      for (std::uint32_t k = 0; k < p->size; ++k) {
        checked_.push_back(offset + k);
        raw = (raw << 16) | known_[offset + k];
      }
      return is_missing(PointType::kUint16, raw) ? 0 : raw;
    }
    return 0;
  }

  std::span<const std::uint16_t> known_;
  std::uint32_t total_;
  std::vector<bool> inside_;
  std::vector<std::uint32_t> checked_;
  std::vector<Frame> frames_;
  bool stopped_ = false;
};

// One pass of read_model for a known model: the whole instance in requests cut between points,
// then (if that took more than one request) a check read of the scale factors and counts read
// before the last request. Sets `settled` to false when the check found a change.
ReadStatus read_model_once(RegisterReader& reader, const ModelDef& def, std::uint16_t address,
                           std::uint32_t total, std::vector<std::uint16_t>& out,
                           std::uint16_t chunk, bool& settled) {
  settled = true;
  out.assign(total, 0);
  std::optional<LayoutWalker> layout;
  std::uint32_t done = 0;
  std::uint32_t last_start = 0;
  while (done < total) {
    // The layout only grows while counts are still unread; once complete it stays.
    if (!layout || !layout->complete()) {
      layout.emplace(std::span<const std::uint16_t>(out).first(done), total);
      layout->walk(def.top);
    }
    // Where the layout was not known yet when the previous request was cut (its counts were in
    // that very request), it may have ended inside a point: read that point again, whole. Costs a
    // few registers, never a request: the cuts are the ones a known layout would have given.
    std::uint32_t start = done;
    while (start > last_start && layout->inside_point(start)) --start;
    if (start == last_start) start = done;  // a point longer than a request: no way around a split
    std::uint32_t end = std::min(total, start + chunk);
    std::uint32_t cut = end;
    while (cut > start && layout->inside_point(cut)) --cut;
    if (cut > start) end = cut;  // else one point is longer than a request: it has to be split
    last_start = start;
    const auto n = static_cast<std::uint16_t>(end - start);
    const ReadStatus s = reader.read_holding(static_cast<std::uint16_t>(address + start), n,
                                             std::span<std::uint16_t>(out).subspan(start, n));
    if (!s.is_ok()) return s;
    done = end;
  }
  if (last_start == 0) return ReadStatus::ok();  // one request: consistent by construction

  if (!layout->complete()) {  // counts in the last request: walk once more with everything
    layout.emplace(out, total);
    layout->walk(def.top);
  }
  // Registers read in the last request were read together with the values of that request and
  // after all earlier ones: only the earlier ones need checking.
  std::vector<std::uint32_t> check;
  for (const std::uint32_t r : layout->checked()) {
    if (r < last_start) check.push_back(r);
  }
  std::vector<std::uint16_t> again;
  for (std::size_t i = 0; i < check.size();) {
    // One request from this register as far as the limit reaches (one request for every model in
    // our tables: their scale factors and counts sit together in the top group).
    std::size_t j = i;
    while (j + 1 < check.size() && check[j + 1] < check[i] + chunk) ++j;
    const auto n = static_cast<std::uint16_t>(check[j] + 1 - check[i]);
    again.assign(n, 0);
    const ReadStatus s =
        reader.read_holding(static_cast<std::uint16_t>(address + check[i]), n, again);
    if (!s.is_ok()) return s;
    for (std::size_t k = i; k <= j; ++k) {
      if (again[check[k] - check[i]] != out[check[k]]) settled = false;
    }
    i = j + 1;
  }
  return ReadStatus::ok();
}

}  // namespace

RegisterReader::~RegisterReader() = default;

std::string to_string(ReadStatus s) {
  switch (s.kind) {
    case ReadStatus::Kind::kOk:
      return "ok";
    case ReadStatus::Kind::kTimeout:
      return "timeout";
    case ReadStatus::Kind::kException:
      return "exception " + std::to_string(s.exception_code);
    case ReadStatus::Kind::kMalformed:
      return "malformed";
    case ReadStatus::Kind::kIoError:
      return "io error";
    case ReadStatus::Kind::kInconsistent:
      return "inconsistent (scale factors changed during the read)";
  }
  return "unknown";
}

std::string_view to_string(DiscoveryError e) {
  switch (e) {
    case DiscoveryError::kNone:
      return "none";
    case DiscoveryError::kNotSunSpec:
      return "no SunSpec marker";
    case DiscoveryError::kReadFailed:
      return "read failed";
    case DiscoveryError::kNoEndMarker:
      return "no end marker";
    case DiscoveryError::kModelPastAddressSpace:
      return "model runs past the address space";
    case DiscoveryError::kTooManyModels:
      return "too many models";
  }
  return "unknown";
}

std::string_view to_string(LengthCheck c) {
  switch (c) {
    case LengthCheck::kOk:
      return "ok";
    case LengthCheck::kUnknownModel:
      return "unknown model";
    case LengthCheck::kMismatch:
      return "length mismatch";
    case LengthCheck::kPartialRepeat:
      return "partial repeating group";
    case LengthCheck::kTooShort:
      return "too short";
  }
  return "unknown";
}

ReadStatus read_registers(RegisterReader& reader, std::uint16_t address, std::uint32_t count,
                          std::vector<std::uint16_t>& out, std::uint16_t max_per_read) {
  std::size_t requests = 0;
  return read_counted(reader, address, count, out, max_per_read, requests);
}

// A model longer than one request is read at several moments, and a value read in a later request
// could be paired with a scale factor read in an earlier one: if the device changed the scale
// factor in between, the value is off by a power of ten (a torn read). SunSpec asks that values
// and their scale factors come from one moment, and Modbus gives no atomic read over 125
// registers, so:
//   - requests are cut between points, never inside one (a 32-bit value or a string is always
//     read whole), still in the fewest requests: the greedy "as far as the limit allows, then
//     back to a point boundary" is optimal for this;
//   - after the last request, the scale factors (and repeat counts, which set the layout) read in
//     an earlier request are read again. Unchanged from their first read to after the last
//     request, they held for every value read in between; changed, the whole model is read again
//     (bounded: kModelReadRetries), and a device that never settles gives kInconsistent rather
//     than a wrong value.
// This bracket is sound when the scale factors are read in the first request, which holds for
// every model in our tables at the default limit (they sit in the top group: 160 at offsets 2-5,
// 701 at 113-122, 705-712 before offset 15; checked by a unit test). Cost: one extra small
// request per multi-request read; none for a model that fits one request, for a model without
// scale factors (211-214), or for an unknown model (no definition: plain chunks, unchecked).
ReadStatus read_model(RegisterReader& reader, const DiscoveredModel& model,
                      std::vector<std::uint16_t>& out, std::uint16_t max_per_read) {
  const std::uint32_t total = 2U + model.length;
  const std::uint16_t chunk = clamp_per_read(max_per_read);
  const ModelDef* def = find_model(model.id);
  if (def == nullptr || total <= chunk || model.address + total > kAddressSpace) {
    return read_registers(reader, model.address, total, out, chunk);
  }
  for (int attempt = 0; attempt <= kModelReadRetries; ++attempt) {
    bool settled = true;
    const ReadStatus s = read_model_once(reader, *def, model.address, total, out, chunk, settled);
    if (!s.is_ok()) return s;
    if (settled) return s;
  }
  out.clear();
  return ReadStatus::inconsistent();
}

DiscoveryResult discover(RegisterReader& reader, const DiscoveryOptions& options) {
  DiscoveryResult r;
  const std::uint16_t per_read = clamp_per_read(options.max_registers_per_read);
  std::vector<std::uint16_t> regs;

  for (const std::uint16_t base : options.base_addresses) {
    BaseProbe probe{base, read_counted(reader, base, 2, regs, per_read, r.requests), false};
    probe.marker_found =
        probe.status.is_ok() && regs[0] == kSunSpecMarker0 && regs[1] == kSunSpecMarker1;
    r.probes.push_back(probe);
    if (probe.marker_found) {
      r.base = base;
      break;
    }
    const auto kind = probe.status.kind;
    if (kind == ReadStatus::Kind::kIoError ||
        (kind == ReadStatus::Kind::kTimeout && !options.next_base_on_timeout)) {
      r.error = DiscoveryError::kReadFailed;
      r.read_status = probe.status;
      return r;
    }
  }
  if (!r.base) {
    r.error = DiscoveryError::kNotSunSpec;
    for (const BaseProbe& p : r.probes) {
      if (!p.status.is_ok()) r.read_status = p.status;
    }
    return r;
  }

  std::uint32_t address = *r.base + 2U;
  while (true) {
    if (address + 2 > kAddressSpace) {
      r.error = DiscoveryError::kNoEndMarker;
      break;
    }
    const ReadStatus s = read_counted(reader, address, 2, regs, per_read, r.requests);
    if (!s.is_ok()) {
      r.error = DiscoveryError::kReadFailed;
      r.read_status = s;
      break;
    }
    DiscoveredModel m;
    m.id = regs[0];
    m.length = regs[1];
    m.address = static_cast<std::uint16_t>(address);
    if (m.id == kEndMarkerId) {
      r.end_marker_found = true;
      break;
    }
    if (r.models.size() >= options.max_models) {
      r.error = DiscoveryError::kTooManyModels;
      break;
    }
    if (address + 2 + m.length > kAddressSpace) {
      r.error = DiscoveryError::kModelPastAddressSpace;
      break;
    }
    const ModelDef* def = find_model(m.id);
    m.known = def != nullptr;
    m.length_check = check_length(def, m.length, m.repeats);
    r.models.push_back(m);

    if (m.id == 1 && def != nullptr && !r.common) {
      const ReadStatus cs =
          read_counted(reader, address, 2U + m.length, regs, per_read, r.requests);
      if (!cs.is_ok()) {
        r.error = DiscoveryError::kReadFailed;
        r.read_status = cs;
        break;
      }
      r.common = common_info(decode_model(*def, regs));
    }
    address += 2U + m.length;
  }
  return r;
}

const DecodedPoint* DecodedModel::find(std::string_view path) const {
  for (const DecodedPoint& p : points) {
    if (p.path == path) return &p;
  }
  return nullptr;
}

DecodedModel decode_model(const ModelDef& def, std::span<const std::uint16_t> block) {
  DecodedModel out;
  out.id = def.id;
  std::span<const std::uint16_t> used = block;
  if (block.size() >= 2) {
    out.length = block[1];
    if (block.size() > 2U + out.length) used = block.first(2U + out.length);
  }
  BlockDecoder decoder(used, out);
  if (used.size() < 2U + out.length || block.size() < 2) decoder.note(DecodeIssue::kShortBlock);
  decoder.instance(def.top, 0, "");
  return out;
}

CommonInfo common_info(const DecodedModel& common) {
  CommonInfo info;
  const auto text = [&](std::string_view name) {
    const DecodedPoint* p = common.find(name);
    return p != nullptr && p->present ? p->text : std::string();
  };
  info.manufacturer = text("Mn");
  info.model = text("Md");
  info.options = text("Opt");
  info.version = text("Vr");
  info.serial = text("SN");
  if (const DecodedPoint* da = common.find("DA"); da != nullptr && da->present) {
    info.device_address = static_cast<std::uint16_t>(da->raw);
  }
  return info;
}

}  // namespace gridlet::adapters::sunspec
