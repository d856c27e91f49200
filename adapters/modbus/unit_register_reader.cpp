#include "adapters/modbus/unit_register_reader.hpp"

#include <algorithm>

namespace gridlet::adapters::modbus {

sunspec::ReadStatus UnitRegisterReader::read_holding(std::uint16_t address, std::uint16_t count,
                                                     std::span<std::uint16_t> out) {
  Request req;
  req.op = Request::Op::kRead;
  req.unit = unit_;
  req.table = Table::kHolding;
  req.address = address;
  req.count = count;
  const Response resp = bus_.execute_now(req);
  switch (resp.outcome) {
    case Outcome::kOk:
      if (resp.registers.size() < count || out.size() < count) return sunspec::ReadStatus::malformed();
      std::copy_n(resp.registers.begin(), count, out.begin());
      return sunspec::ReadStatus::ok();
    case Outcome::kTimeout:
      return sunspec::ReadStatus::timeout();
    case Outcome::kException:
      return sunspec::ReadStatus::exception(static_cast<std::uint8_t>(resp.exception_code));
    case Outcome::kMalformed:
      return sunspec::ReadStatus::malformed();
    case Outcome::kIoError:
    case Outcome::kOffline:
    case Outcome::kRefused:
      return sunspec::ReadStatus::io_error();
  }
  return sunspec::ReadStatus::io_error();
}

bool answered(const sunspec::ReadStatus& status) {
  using Kind = sunspec::ReadStatus::Kind;
  switch (status.kind) {
    case Kind::kOk:
    case Kind::kInconsistent:
      return true;
    case Kind::kException:
      return answered(Outcome::kException, status.exception_code);
    case Kind::kTimeout:
    case Kind::kMalformed:
    case Kind::kIoError:
      return false;
  }
  return false;
}

Contact contact(const sunspec::ReadStatus& status) {
  if (answered(status)) return Contact::kAnswered;
  return status.kind == sunspec::ReadStatus::Kind::kMalformed ? Contact::kUnknown : Contact::kSilent;
}

}  // namespace gridlet::adapters::modbus
