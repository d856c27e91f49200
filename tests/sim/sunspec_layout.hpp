// Places SunSpec models on a register map, using the official model tables of the adapters
// (adapters/modbus/sunspec_models.hpp), so that devsim's offsets are the same as the ones the
// gateway decodes and both are checked against the SunSpec JSON by the adapters' tests.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

#include "adapters/modbus/sunspec_models.hpp"

namespace gridlet::devsim {

namespace sunspec = gridlet::adapters::sunspec;

// One model instance at a fixed address (the address of its ID register).
struct PlacedModel {
  const sunspec::ModelDef* def = nullptr;
  std::uint16_t address = 0;
  std::uint16_t length = 0;   // L: registers after L
  std::uint16_t repeats = 0;  // instances of the repeating group (model 160 modules)

  // Absolute address of a point of the top group. An unknown name is a devsim bug: aborts.
  std::uint16_t at(std::string_view point) const;
  // Absolute address of a point of instance `index` of the repeating group.
  std::uint16_t repeat_at(std::uint16_t index, std::string_view point) const;

  struct Hit {
    const sunspec::PointDef* point;
    std::uint16_t start;  // absolute address of the point's first register
  };
  // The point that holds `address`, if any.
  std::optional<Hit> point_covering(std::uint16_t address) const;

  std::uint16_t end() const { return static_cast<std::uint16_t>(address + 2 + length); }
};

// A SunSpec register map: "SunS" at `base`, models in the order added, then the end marker.
class SunSpecLayout {
 public:
  explicit SunSpecLayout(std::uint16_t base) : base_(base), next_(static_cast<std::uint16_t>(base + 2)) {}

  // Appends a model; `repeats` sets the instance count of a repeating group. Aborts on a model
  // that the tables do not know (a devsim bug).
  const PlacedModel& add(std::uint16_t id, std::uint16_t repeats = 0);

  // Writes the marker, every model's ID and L, "not implemented" in every point, the end marker.
  void write_skeleton(std::uint16_t* regs) const;

  std::uint16_t base() const { return base_; }
  // One past the end marker: the map is [base(), end()).
  std::uint16_t end() const { return static_cast<std::uint16_t>(next_ + 2); }
  const PlacedModel& model(std::uint16_t id) const;
  const PlacedModel* model_at(std::uint16_t address) const;
  const std::deque<PlacedModel>& models() const { return models_; }

 private:
  std::uint16_t base_;
  std::uint16_t next_;  // where the next model (or the end marker) goes
  std::deque<PlacedModel> models_;  // deque: references handed out by add() stay valid
};

}  // namespace gridlet::devsim
