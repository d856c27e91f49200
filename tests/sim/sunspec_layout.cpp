#include "tests/sim/sunspec_layout.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/sim/registers.hpp"

namespace gridlet::devsim {
namespace {

[[noreturn]] void layout_bug(const char* what, std::string_view name) {
  std::fprintf(stderr, "devsim: layout bug: %s '%.*s'\n", what, static_cast<int>(name.size()),
               name.data());
  std::abort();
}

const sunspec::GroupDef* repeating_group(const sunspec::ModelDef& def) {
  for (const auto& g : def.top.groups) {
    if (g.repeat == sunspec::GroupRepeat::kFillModel) return &g;
  }
  return nullptr;
}

void fill_point(std::uint16_t* regs, std::uint16_t at, const sunspec::PointDef& p) {
  using T = sunspec::PointType;
  switch (p.type) {
    case T::kInt16:
    case T::kSunssf:
    case T::kPad:
      regs[at] = kNotImplI16;
      return;
    case T::kInt32:
    case T::kInt64:
      regs[at] = 0x8000;
      for (std::uint16_t i = 1; i < p.size; ++i) regs[at + i] = 0;
      return;
    case T::kAcc16:
    case T::kAcc32:
    case T::kAcc64:
    case T::kString:
    case T::kIpaddr:
    case T::kIpv6addr:
      for (std::uint16_t i = 0; i < p.size; ++i) regs[at + i] = 0;
      return;
    case T::kFloat32:
      put_u32(regs, at, 0x7FC00000);  // NaN
      return;
    default:  // unsigned, enums, bitfields, count, float64, eui48: all ones
      for (std::uint16_t i = 0; i < p.size; ++i) regs[at + i] = kNotImplU16;
      return;
  }
}

// Nested groups that appear exactly once (e.g. the 704 PFWInj.. sync groups) sit after their
// parent's points: fill them too, so they read "not implemented" rather than 0.
std::uint16_t fill_once_groups(std::uint16_t* regs, std::uint16_t at, const sunspec::GroupDef& parent) {
  for (const auto& g : parent.groups) {
    if (g.repeat != sunspec::GroupRepeat::kOnce) continue;
    for (const auto& p : g.points) fill_point(regs, static_cast<std::uint16_t>(at + p.offset), p);
    at = fill_once_groups(regs, static_cast<std::uint16_t>(at + g.points_length), g);
  }
  return at;
}

}  // namespace

std::uint16_t PlacedModel::at(std::string_view point) const {
  const auto* p = sunspec::find_point(def->top, point);
  if (p == nullptr) layout_bug("no such point", point);
  return static_cast<std::uint16_t>(address + p->offset);
}

std::uint16_t PlacedModel::repeat_at(std::uint16_t index, std::string_view point) const {
  const auto* g = repeating_group(*def);
  const auto* p = g != nullptr ? sunspec::find_point(*g, point) : nullptr;
  if (p == nullptr || index >= repeats) layout_bug("no such repeating point", point);
  return static_cast<std::uint16_t>(address + def->top.points_length + index * g->points_length +
                                    p->offset);
}

std::optional<PlacedModel::Hit> PlacedModel::point_covering(std::uint16_t a) const {
  if (a < address || a >= end()) return std::nullopt;
  std::uint16_t rel = static_cast<std::uint16_t>(a - address);
  const sunspec::GroupDef* group = &def->top;
  std::uint16_t group_start = address;
  if (rel >= def->top.points_length) {
    group = repeating_group(*def);
    if (group == nullptr) return std::nullopt;
    const auto in_repeats = static_cast<std::uint16_t>(rel - def->top.points_length);
    const auto instance = static_cast<std::uint16_t>(in_repeats / group->points_length);
    group_start = static_cast<std::uint16_t>(address + def->top.points_length +
                                             instance * group->points_length);
    rel = static_cast<std::uint16_t>(in_repeats % group->points_length);
  }
  for (const auto& p : group->points) {
    if (rel >= p.offset && rel < p.offset + p.size) {
      return Hit{&p, static_cast<std::uint16_t>(group_start + p.offset)};
    }
  }
  return std::nullopt;
}

const PlacedModel& SunSpecLayout::add(std::uint16_t id, std::uint16_t repeats) {
  const auto* def = sunspec::find_model(id);
  if (def == nullptr) layout_bug("unknown model", std::to_string(id));
  PlacedModel m;
  m.def = def;
  m.address = next_;
  m.repeats = repeats;
  m.length = def->length_rule == sunspec::LengthRule::kFillRepeats
                 ? static_cast<std::uint16_t>(def->fixed_length + repeats * def->repeat_length)
                 : def->fixed_length;
  next_ = m.end();
  models_.push_back(m);
  return models_.back();
}

void SunSpecLayout::write_skeleton(std::uint16_t* regs) const {
  regs[base_] = 0x5375;      // "Su"
  regs[base_ + 1] = 0x6e53;  // "nS"
  for (const auto& m : models_) {
    for (const auto& p : m.def->top.points) fill_point(regs, static_cast<std::uint16_t>(m.address + p.offset), p);
    fill_once_groups(regs, static_cast<std::uint16_t>(m.address + m.def->top.points_length), m.def->top);
    if (const auto* g = repeating_group(*m.def)) {
      for (std::uint16_t i = 0; i < m.repeats; ++i) {
        const auto start = static_cast<std::uint16_t>(m.address + m.def->top.points_length + i * g->points_length);
        for (const auto& p : g->points) fill_point(regs, static_cast<std::uint16_t>(start + p.offset), p);
      }
    }
    regs[m.address] = m.def->id;
    regs[m.address + 1] = m.length;
  }
  regs[next_] = 0xFFFF;  // end marker: ID 0xFFFF, L 0
  regs[next_ + 1] = 0;
}

const PlacedModel& SunSpecLayout::model(std::uint16_t id) const {
  for (const auto& m : models_) {
    if (m.def->id == id) return m;
  }
  layout_bug("model not placed", std::to_string(id));
}

const PlacedModel* SunSpecLayout::model_at(std::uint16_t a) const {
  for (const auto& m : models_) {
    if (a >= m.address && a < m.end()) return &m;
  }
  return nullptr;
}

}  // namespace gridlet::devsim
