#include "adapters/modbus/sunspec_discovery.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <unordered_map>

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

// The text of a string point into `out` (its storage reused): two characters per register, first
// the high byte; a string ends at its first NUL, and trailing spaces are padding.
void trim_text(std::span<const std::uint16_t> regs, std::string& out) {
  out.resize(regs.size() * 2);
  for (std::size_t i = 0; i < regs.size(); ++i) {
    out[2 * i] = static_cast<char>(regs[i] >> 8);
    out[2 * i + 1] = static_cast<char>(regs[i] & 0xFF);
  }
  if (const auto nul = out.find('\0'); nul != std::string::npos) out.resize(nul);
  while (!out.empty() && out.back() == ' ') out.pop_back();
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

// 10^e for the SunSpec scale-factor range, so decoding does not call std::pow for every point.
// Each entry is the double nearest to 10^e, the same value std::pow(10.0, e) gives (checked by a
// unit test through decode_model).
constexpr std::array<double, kMaxScaleFactor - kMinScaleFactor + 1> kPowersOfTen = {
    1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0,
    1e1,   1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10};

// Where the scale factor of each point of our tables lies, worked out once: a point's `sf` names a
// point of its own group instance or of an enclosing one, and which one is fixed by the model
// definition (the nesting of groups), not by the registers. So instead of searching the enclosing
// groups by name for every point of every read, BlockDecoder looks the answer up here.
struct ScaleFactorRef {
  std::uint32_t levels_up = 0;   // 0: the point's own group instance, 1: the one enclosing it...
  const PointDef* sf = nullptr;  // the scale factor point
};

class ScaleFactorIndex {
 public:
  ScaleFactorIndex() {
    for (const ModelDef& m : supported_models()) add(m.top);
  }
  // The scale factor of `p`, or nullptr for a point not in our tables (a caller's own ModelDef),
  // or one whose scale factor the definitions do not resolve to a single place: search by name.
  const ScaleFactorRef* find(const PointDef& p) const {
    const auto it = refs_.find(&p);
    return it == refs_.end() || it->second.sf == nullptr ? nullptr : &it->second;
  }

 private:
  void add(const GroupDef& g) {
    chain_.push_back(&g);
    for (const PointDef& p : g.points) {
      if (p.sf.empty()) continue;
      ScaleFactorRef ref;
      for (std::size_t up = 0; up < chain_.size(); ++up) {
        if (const PointDef* sf = find_point(*chain_[chain_.size() - 1 - up], p.sf)) {
          ref = {static_cast<std::uint32_t>(up), sf};
          break;
        }
      }
      const auto [it, inserted] = refs_.try_emplace(&p, ref);
      // A group definition shared by two parents could resolve differently in each: then leave
      // the point to the search by name (sf = nullptr).
      if (!inserted && (it->second.levels_up != ref.levels_up || it->second.sf != ref.sf)) {
        it->second.sf = nullptr;
      }
    }
    for (const GroupDef& sub : g.groups) add(sub);
    chain_.pop_back();
  }

  std::unordered_map<const PointDef*, ScaleFactorRef> refs_;
  std::vector<const GroupDef*> chain_;  // while building: the groups enclosing the current one
};

const ScaleFactorIndex& scale_factor_index() {
  static const ScaleFactorIndex index;  // built on first use, thread-safe, read-only after
  return index;
}

// Walks a model block group by group. Each frame is one group instance being decoded (they live
// on the stack of instance(), each pointing to the one enclosing it); scale factor and count
// points are looked up from the innermost instance outwards.
//
// The decoder writes into out.points in order, reusing the elements (and their strings' storage)
// already there: a caller that decodes the same model again and again (decode_model_into) then
// allocates nothing once the first decode has sized everything. The path of the current group
// instance ("", "module[1].") is kept in one buffer, extended and cut back as the walk enters and
// leaves groups; a point's path is only written when it differs from the one already there.
class BlockDecoder {
 public:
  BlockDecoder(std::span<const std::uint16_t> block, DecodedModel& out)
      : block_(block), out_(out) {}

  struct Frame {
    const GroupDef* group;
    std::uint32_t base;
    const Frame* outer;  // the enclosing instance, nullptr for the top group
  };

  std::uint32_t instance(const GroupDef& g, std::uint32_t base, const Frame* outer = nullptr) {
    const Frame frame{&g, base, outer};
    for (const PointDef& p : g.points) {
      if (p.type != PointType::kPad) decode_point(frame, p, base + p.offset);
    }
    const std::size_t prefix = path_.size();  // this instance's path
    std::uint32_t pos = base + g.points_length;
    for (const GroupDef& sub : g.groups) {
      switch (sub.repeat) {
        case GroupRepeat::kOnce:
          enter(sub.name, std::nullopt);
          pos += instance(sub, pos, &frame);
          path_.resize(prefix);
          break;
        case GroupRepeat::kByCountPoint: {
          const std::optional<std::uint64_t> n = lookup(frame, sub.count_point, PointType::kUint16);
          if (!n) {
            note(DecodeIssue::kBadCount);
            break;
          }
          for (std::uint64_t i = 0; i < *n; ++i) {
            if (pos >= block_.size()) {
              note(DecodeIssue::kShortBlock);
              break;
            }
            enter(sub.name, i);
            const std::uint32_t used = instance(sub, pos, &frame);
            path_.resize(prefix);
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
            enter(sub.name, i);
            pos += instance(sub, pos, &frame);
            path_.resize(prefix);
          }
          break;
      }
    }
    return pos - base;
  }

  void note(DecodeIssue issue) {
    if (out_.issue == DecodeIssue::kNone) out_.issue = issue;
  }

  // Drops the elements of out.points that this decode did not reach (a shorter layout than the
  // previous decode into the same DecodedModel). Call once, after the walk.
  void finish() {
    if (used_ != out_.points.size()) paths_changed_ = true;
    out_.points.resize(used_);
  }
  // True when the decoded paths differ from those out.points held before (in number or text).
  bool paths_changed() const { return paths_changed_; }

 private:
  // Extends the path for an instance of group `name`: "name." or, repeated, "name[i].".
  void enter(std::string_view name, std::optional<std::uint64_t> index) {
    path_.append(name);
    if (index) {
      char digits[24];
      const auto end = std::to_chars(std::begin(digits), std::end(digits), *index).ptr;
      path_.push_back('[');
      path_.append(digits, end);
      path_.push_back(']');
    }
    path_.push_back('.');
  }

  // The next element of out.points, reset to an undecoded point `p` of the current instance (its
  // strings keep their storage). Its path is path_ + p.name; an element left by an earlier decode
  // of the same point in an instance with the same path already holds it (the path is a function
  // of the instance's path and the point), so only the instance's part is compared.
  DecodedPoint& next_point(const PointDef& p, std::uint32_t offset) {
    if (used_ == out_.points.size()) out_.points.emplace_back();
    DecodedPoint& d = out_.points[used_++];
    const bool same_path = d.def == &p && d.path.size() == path_.size() + p.name.size() &&
                           std::string_view(d.path).starts_with(path_);
    if (!same_path) {
      d.path.assign(path_).append(p.name);
      paths_changed_ = true;
    }
    d.def = &p;
    d.offset = offset;
    d.present = false;
    d.raw = 0;
    d.text.clear();
    d.scale_factor.reset();
    d.value.reset();
    return d;
  }

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

  // Raw value of `p` at `offset` as a scale factor or count (at most 4 registers), if present.
  std::optional<std::uint64_t> small_value(const PointDef& p, std::uint32_t offset,
                                           PointType type) const {
    const auto regs = registers(offset, p.size);
    if (!regs || p.size > 4) return std::nullopt;
    const std::uint64_t raw = combine(*regs);
    if (is_missing(type, raw)) return std::nullopt;
    return raw;
  }

  // Raw value of the nearest point named `name` (innermost instance first), if present.
  std::optional<std::uint64_t> lookup(const Frame& innermost, std::string_view name,
                                      PointType type) const {
    for (const Frame* f = &innermost; f != nullptr; f = f->outer) {
      const PointDef* p = find_point(*f->group, name);
      if (p != nullptr) return small_value(*p, f->base + p->offset, type);
    }
    return std::nullopt;
  }

  // Raw value of the scale factor of `p`, a point of the instance `frame`, if present. Where the
  // scale factor lies comes from the index (no search by name) for the points of our tables.
  std::optional<std::uint64_t> scale_factor(const Frame& frame, const PointDef& p) const {
    const ScaleFactorRef* ref = index_.find(p);
    if (ref == nullptr) return lookup(frame, p.sf, PointType::kSunssf);
    const Frame* f = &frame;
    for (std::uint32_t up = 0; up < ref->levels_up && f != nullptr; ++up) f = f->outer;
    // A group of our tables nested differently by a caller's own ModelDef: search by name.
    const std::less<const PointDef*> before;  // a total order, also across arrays
    if (f == nullptr || before(ref->sf, f->group->points.data()) ||
        !before(ref->sf, f->group->points.data() + f->group->points.size())) {
      return lookup(frame, p.sf, PointType::kSunssf);
    }
    return small_value(*ref->sf, f->base + ref->sf->offset, PointType::kSunssf);
  }

  void decode_point(const Frame& frame, const PointDef& p, std::uint32_t offset) {
    DecodedPoint& d = next_point(p, offset);
    const auto regs = registers(offset, p.size);
    if (!regs) {
      note(DecodeIssue::kShortBlock);
      return;
    }
    if (p.type == PointType::kString) {
      const bool all_zero = std::all_of(regs->begin(), regs->end(), [](auto r) { return r == 0; });
      d.present = !all_zero;
      if (d.present) trim_text(*regs, d.text);
      return;
    }
    if (p.size > 4) {  // ipv6addr: present unless all zero; no number
      d.present = std::any_of(regs->begin(), regs->end(), [](auto r) { return r != 0; });
      return;
    }
    d.raw = combine(*regs);
    d.present = !is_missing(p.type, d.raw);
    if (!p.sf.empty()) {
      if (const auto sf = scale_factor(frame, p)) {
        const int exponent = static_cast<std::int16_t>(static_cast<std::uint16_t>(*sf));
        if (exponent >= kMinScaleFactor && exponent <= kMaxScaleFactor) {
          d.scale_factor = static_cast<std::int8_t>(exponent);
        }
      }
    }
    if (d.present) {
      const std::optional<double> number = raw_number(p.type, d.raw);
      if (number && (p.sf.empty() || d.scale_factor)) {
        d.value = d.scale_factor
                      ? *number * kPowersOfTen[static_cast<std::size_t>(*d.scale_factor - kMinScaleFactor)]
                      : *number;
      }
    }
  }

  const ScaleFactorIndex& index_ = scale_factor_index();
  std::span<const std::uint16_t> block_;
  DecodedModel& out_;
  std::string path_;           // path of the group instance being decoded: "", "Crv[1].Pt[0]."
  std::size_t used_ = 0;       // elements of out_.points written so far
  bool paths_changed_ = false;
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
  decode_model_into(def, block, out);
  return out;
}

bool decode_model_into(const ModelDef& def, std::span<const std::uint16_t> block,
                       DecodedModel& out) {
  out.id = def.id;
  out.length = 0;
  out.issue = DecodeIssue::kNone;
  std::span<const std::uint16_t> used = block;
  if (block.size() >= 2) {
    out.length = block[1];
    if (block.size() > 2U + out.length) used = block.first(2U + out.length);
  }
  BlockDecoder decoder(used, out);
  if (used.size() < 2U + out.length || block.size() < 2) decoder.note(DecodeIssue::kShortBlock);
  decoder.instance(def.top, 0);
  decoder.finish();
  return decoder.paths_changed();
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
