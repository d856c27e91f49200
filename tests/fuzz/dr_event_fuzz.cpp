// Fuzzes the DR event parser (gateway/dr). Any bytes give an event or an InputError with a message,
// never a crash; every accepted event round-trips: parse_event(to_json(e)) == e, and to_json is
// stable. The same bytes also go to the timestamp, duration and decimal readers, whose accepted
// values must read back from their canonical text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/dr/decimal.hpp"
#include "gateway/dr/event.hpp"
#include "gateway/dr/iso8601.hpp"

using namespace gridlet::dr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const Result<DrEvent> event = parse_event(input);
  if (event.is_ok()) {
    const std::string json = to_json(*event);
    const Result<DrEvent> again = parse_event(json);
    if (!again.is_ok() || !(*again == *event) || to_json(*again) != json) std::abort();
  } else if (event.error().message.empty()) {
    std::abort();
  }

  if (size <= 64) {
    if (const auto ts = parse_timestamp_ms(input); ts.is_ok()) {
      const auto back = parse_timestamp_ms(format_timestamp_ms(*ts));
      if (!back.is_ok() || *back != *ts) std::abort();
    }
    if (const auto d = parse_duration_ms(input); d.is_ok()) {
      const auto back = parse_duration_ms(format_duration_ms(*d));
      if (!back.is_ok() || *back != *d) std::abort();
    }
    if (const auto dec = parse_decimal(input); dec.is_ok()) {
      const auto back = parse_decimal(format_decimal(*dec));
      if (!back.is_ok() || *back != *dec) std::abort();
    }
  }
  return 0;
}
