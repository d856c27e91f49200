// The DR event model: ISO 8601 times, exact decimals, parse_event's validation (every refusal with
// its JSON pointer), OpenADR's "now" and cancel forms, and the to_json round trip.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/dr/decimal.hpp"
#include "gateway/dr/event.hpp"
#include "gateway/dr/iso8601.hpp"

namespace {

using namespace gridlet::dr;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

// ---- Timestamps -------------------------------------------------------------------------------

std::int64_t ts(std::string_view text) {
  const auto r = parse_timestamp_ms(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.error().to_string();
  return r.is_ok() ? *r : 0;
}

std::string ts_error(std::string_view text) {
  const auto r = parse_timestamp_ms(text);
  EXPECT_FALSE(r.is_ok()) << text << " was accepted as " << (r.is_ok() ? *r : 0);
  return r.is_ok() ? "" : r.error().message;
}

TEST(DrTimestamp, UtcAndEpoch) {
  EXPECT_EQ(ts("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ts("2024-06-01T17:00:00Z"), 1'717'261'200'000);
  EXPECT_EQ(ts("2024-06-01t17:00:00z"), 1'717'261'200'000);
  EXPECT_EQ(ts("1969-12-31T23:59:59.999Z"), -1);
}

TEST(DrTimestamp, Offsets) {
  EXPECT_EQ(ts("2024-06-01T19:00:00+02:00"), ts("2024-06-01T17:00:00Z"));
  EXPECT_EQ(ts("2024-06-01T12:30:00-04:30"), ts("2024-06-01T17:00:00Z"));
  EXPECT_EQ(ts("2024-06-01T17:00:00-00:00"), ts("2024-06-01T17:00:00Z"));
  EXPECT_EQ(ts("2024-01-01T00:30:00+01:00"), ts("2023-12-31T23:30:00Z"));  // across a year
  EXPECT_EQ(ts("2024-06-01T17:00:00+23:59"), ts("2024-06-01T17:00:00Z") - 23 * kHour - 59 * kMinute);
}

TEST(DrTimestamp, FractionsTruncateToMilliseconds) {
  EXPECT_EQ(ts("1970-01-01T00:00:00.5Z"), 500);
  EXPECT_EQ(ts("1970-01-01T00:00:00.25Z"), 250);
  EXPECT_EQ(ts("1970-01-01T00:00:00.123Z"), 123);
  EXPECT_EQ(ts("1970-01-01T00:00:00.123999999Z"), 123);
  EXPECT_EQ(ts("1969-12-31T23:59:59.9999Z"), -1);  // truncated towards the past
  EXPECT_EQ(ts("1970-01-01T01:00:00.750+01:00"), 750);
}

TEST(DrTimestamp, CalendarEdges) {
  EXPECT_EQ(ts("2024-02-29T00:00:00Z") + kDay, ts("2024-03-01T00:00:00Z"));
  EXPECT_EQ(ts("2000-02-29T00:00:00Z") + kDay, ts("2000-03-01T00:00:00Z"));
  EXPECT_NE(ts_error("2023-02-29T00:00:00Z").find("day 29"), std::string::npos);
  EXPECT_NE(ts_error("1900-02-29T00:00:00Z").find("day 29"), std::string::npos);
  EXPECT_NE(ts_error("2024-04-31T00:00:00Z").find("day 31"), std::string::npos);
  EXPECT_EQ(ts("0001-01-01T00:00:00Z"), kMinTimestampMs);
  EXPECT_EQ(ts("9999-12-31T23:59:59.999Z"), kMaxTimestampMs);
  // A leap second counts as the first second of the next minute.
  EXPECT_EQ(ts("2016-12-31T23:59:60Z"), ts("2017-01-01T00:00:00Z"));
}

TEST(DrTimestamp, Refusals) {
  EXPECT_NE(ts_error("").find("RFC 3339"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01").find("RFC 3339"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01 17:00:00Z").find("RFC 3339"), std::string::npos);
  EXPECT_NE(ts_error("2024-6-01T17:00:00Z").find("RFC 3339"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:00").find("offset"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:00.Z").find("digits"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:00+0200").find("+HH:MM"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:00+2:00").find("+HH:MM"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:00+24:00").find("offset"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:00Zjunk").find("after the offset"), std::string::npos);
  EXPECT_NE(ts_error("2024-13-01T17:00:00Z").find("month 13"), std::string::npos);
  EXPECT_NE(ts_error("2024-00-01T17:00:00Z").find("month 0"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-00T17:00:00Z").find("day 0"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T24:00:00Z").find("hour 24"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:60:00Z").find("minute 60"), std::string::npos);
  EXPECT_NE(ts_error("2024-06-01T17:00:61Z").find("second 61"), std::string::npos);
  EXPECT_NE(ts_error("0000-06-01T17:00:00Z").find("year 0000"), std::string::npos);
  EXPECT_NE(ts_error("0001-01-01T00:30:00+01:00").find("out of range"), std::string::npos);
  EXPECT_NE(ts_error("9999-12-31T23:30:00-01:00").find("out of range"), std::string::npos);
  EXPECT_NE(ts_error("+2024-06-01T17:00:00Z").find("RFC 3339"), std::string::npos);
}

TEST(DrTimestamp, FormatIsCanonicalAndReadsBack) {
  EXPECT_EQ(format_timestamp_ms(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp_ms(1'717'261'200'250), "2024-06-01T17:00:00.250Z");
  EXPECT_EQ(format_timestamp_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp_ms(kMinTimestampMs), "0001-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp_ms(kMaxTimestampMs), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp_ms(kMaxTimestampMs + 1), std::to_string(kMaxTimestampMs + 1));
  // Every day boundary and some odd times across the whole range read back.
  for (std::int64_t ms = kMinTimestampMs; ms <= kMaxTimestampMs; ms += 997 * kDay + 12'345'679) {
    const auto back = parse_timestamp_ms(format_timestamp_ms(ms));
    ASSERT_TRUE(back.is_ok()) << ms;
    EXPECT_EQ(*back, ms);
  }
}

// ---- Durations --------------------------------------------------------------------------------

std::int64_t dur(std::string_view text) {
  const auto r = parse_duration_ms(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.error().to_string();
  return r.is_ok() ? *r : -1;
}

std::string dur_error(std::string_view text) {
  const auto r = parse_duration_ms(text);
  EXPECT_FALSE(r.is_ok()) << text << " was accepted as " << (r.is_ok() ? *r : 0);
  return r.is_ok() ? "" : r.error().message;
}

TEST(DrDuration, Forms) {
  EXPECT_EQ(dur("PT0S"), 0);
  EXPECT_EQ(dur("PT15M"), 15 * kMinute);
  EXPECT_EQ(dur("PT1H"), kHour);
  EXPECT_EQ(dur("PT1H30M"), 90 * kMinute);
  EXPECT_EQ(dur("PT90M"), 90 * kMinute);  // no carry limits
  EXPECT_EQ(dur("P1D"), kDay);
  EXPECT_EQ(dur("P2W"), 14 * kDay);
  EXPECT_EQ(dur("P1WT1H"), 7 * kDay + kHour);
  EXPECT_EQ(dur("P1DT2H3M4S"), kDay + 2 * kHour + 3 * kMinute + 4000);
  EXPECT_EQ(dur("PT0.5S"), 500);
  EXPECT_EQ(dur("PT1,25S"), 1250);
  EXPECT_EQ(dur("PT0.0009S"), 0);  // truncated
  EXPECT_EQ(dur("PT1.999999S"), 1999);
  EXPECT_EQ(dur("P9999Y"), kOpenEndedMs);
}

TEST(DrDuration, Refusals) {
  EXPECT_NE(dur_error("").find("ISO 8601"), std::string::npos);
  EXPECT_NE(dur_error("P").find("at least one"), std::string::npos);
  EXPECT_NE(dur_error("PT").find("at least one"), std::string::npos);
  EXPECT_NE(dur_error("P1DT").find("'T' must be followed"), std::string::npos);
  EXPECT_NE(dur_error("15M").find("starting with P"), std::string::npos);
  EXPECT_NE(dur_error("-PT1H").find("negative"), std::string::npos);
  EXPECT_NE(dur_error("P1Y").find("years and months"), std::string::npos);
  EXPECT_NE(dur_error("P1M").find("years and months"), std::string::npos);
  EXPECT_NE(dur_error("P9998Y").find("years and months"), std::string::npos);
  EXPECT_NE(dur_error("P9999YT1H").find("years and months"), std::string::npos);
  EXPECT_NE(dur_error("P1W1D").find("out of order"), std::string::npos);
  EXPECT_NE(dur_error("PT1M1H").find("out of order"), std::string::npos);
  EXPECT_NE(dur_error("PT1H1H").find("out of order"), std::string::npos);
  EXPECT_NE(dur_error("PT1HT1M").find("twice"), std::string::npos);
  EXPECT_NE(dur_error("P1H").find("before T"), std::string::npos);
  EXPECT_NE(dur_error("PT1D").find("after T"), std::string::npos);
  EXPECT_NE(dur_error("PT1.5M").find("only seconds"), std::string::npos);
  EXPECT_NE(dur_error("PT.5S").find("number before"), std::string::npos);
  EXPECT_NE(dur_error("PT1.S").find("digits after"), std::string::npos);
  EXPECT_NE(dur_error("PT15").find("without a unit"), std::string::npos);
  EXPECT_NE(dur_error("pt15m").find("starting with P"), std::string::npos);
  EXPECT_NE(dur_error("PT1000000000000000S").find("too large"), std::string::npos);
  EXPECT_NE(dur_error("P999999999999999W").find("too long"), std::string::npos);
}

TEST(DrDuration, FormatIsCanonicalAndReadsBack) {
  EXPECT_EQ(format_duration_ms(0), "PT0S");
  EXPECT_EQ(format_duration_ms(15 * kMinute), "PT15M");
  EXPECT_EQ(format_duration_ms(kDay), "P1D");
  EXPECT_EQ(format_duration_ms(kDay + 500), "P1DT0.5S");
  EXPECT_EQ(format_duration_ms(kHour + 1), "PT1H0.001S");
  EXPECT_EQ(format_duration_ms(kOpenEndedMs), "P9999Y");
  EXPECT_EQ(format_duration_ms(-kHour), "-PT1H");
  for (std::int64_t ms = 0; ms < 400 * kDay; ms += 7 * kHour + 13 * kMinute + 17'017) {
    EXPECT_EQ(dur(format_duration_ms(ms)), ms);
  }
}

// ---- Decimals ---------------------------------------------------------------------------------

std::int64_t micro(std::string_view text) {
  const auto r = parse_decimal(text);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.error().to_string();
  return r.is_ok() ? r->micro : 0;
}

TEST(DrDecimal, ExactAndRounded) {
  EXPECT_EQ(micro("0"), 0);
  EXPECT_EQ(micro("-0"), 0);
  EXPECT_EQ(micro("0.17"), 170'000);
  EXPECT_EQ(micro("-12.5"), -12'500'000);
  EXPECT_EQ(micro("3"), 3'000'000);
  EXPECT_EQ(micro("1.5e3"), 1'500'000'000);
  EXPECT_EQ(micro("1.5E+3"), 1'500'000'000);
  EXPECT_EQ(micro("2e-6"), 2);
  EXPECT_EQ(micro("0.0000005"), 1);    // half away from zero
  EXPECT_EQ(micro("-0.0000005"), -1);
  EXPECT_EQ(micro("0.00000049"), 0);
  EXPECT_EQ(micro("0.17000000000000001"), 170'000);
  EXPECT_EQ(micro("123456789012.123456"), 123'456'789'012'123'456);
  EXPECT_EQ(micro("1000000000000"), kMaxDecimalMicro);
  EXPECT_EQ(micro("0e99999999999999"), 0);
  EXPECT_EQ(micro("5e-99999999999"), 0);
}

TEST(DrDecimal, Refusals) {
  for (const char* bad : {"", "-", "1.", ".5", "01", "1e", "1e+", "abc", "1.5x", "+1", "0x10"}) {
    EXPECT_FALSE(parse_decimal(bad).is_ok()) << bad;
  }
  EXPECT_NE(parse_decimal("1000000000000.000001").error().message.find("out of range"), std::string::npos);
  EXPECT_NE(parse_decimal("1e13").error().message.find("out of range"), std::string::npos);
  EXPECT_NE(parse_decimal("-1e400").error().message.find("out of range"), std::string::npos);
}

TEST(DrDecimal, Format) {
  EXPECT_EQ(format_decimal(Decimal{170'000}), "0.17");
  EXPECT_EQ(format_decimal(Decimal{-12'500'000}), "-12.5");
  EXPECT_EQ(format_decimal(Decimal{-1}), "-0.000001");
  EXPECT_EQ(format_decimal(Decimal{3'000'001}), "3.000001");
  EXPECT_EQ(format_decimal(Decimal{0}), "0");
  EXPECT_EQ(format_decimal(Decimal{kMaxDecimalMicro}), "1000000000000");
  for (std::int64_t m = -kMaxDecimalMicro; m <= kMaxDecimalMicro; m += 7'777'777'777'777'777) {
    EXPECT_EQ(micro(format_decimal(Decimal{m})), m);
  }
}

// ---- Events -----------------------------------------------------------------------------------

DrEvent parse_ok(std::string_view json) {
  auto r = parse_event(json);
  EXPECT_TRUE(r.is_ok()) << r.error().to_string() << "\n" << json;
  if (!r.is_ok()) return {};
  // Every accepted event round-trips.
  const std::string again = to_json(*r);
  const auto back = parse_event(again);
  EXPECT_TRUE(back.is_ok()) << back.error().to_string() << "\n" << again;
  if (back.is_ok()) {
    EXPECT_EQ(*back, *r) << again;
    EXPECT_EQ(to_json(*back), again);
  }
  return std::move(r).value();
}

// "POINTER: MESSAGE" of a refused event.
std::string parse_error(std::string_view json) {
  const auto r = parse_event(json);
  EXPECT_FALSE(r.is_ok()) << json;
  return r.is_ok() ? "" : r.error().to_string();
}

// An event with one 15-minute interval carrying `payloads`, and extra top-level fields.
std::string event_with(std::string_view payloads, std::string_view extra = "") {
  return std::string(R"({"event_id":"e1","program":"p1",)") + std::string(extra) +
         R"("interval_period":{"start":"2024-06-01T17:00:00Z","duration":"PT15M"},)" +
         R"("intervals":[{"id":0,"payloads":[)" + std::string(payloads) + "]}]}";
}

const char* kFullExample = R"({
  "event_id": "evt-2024-06-01-peak",
  "program": "summer-peak",
  "name": "Peak shave, 1 June",
  "priority": 1,
  "modification_number": 3,
  "created": "2024-05-31T12:00:00Z",
  "modified": "2024-05-31T14:30:00.250+02:00",
  "targets": ["battery-1", "ev-garage"],
  "payload_descriptors": [
    {"payload_type": "PRICE", "units": "KWH", "currency": "EUR"},
    {"payload_type": "IMPORT_CAPACITY_LIMIT", "units": "KW"},
    {"payload_type": "CHARGE_STATE_SETPOINT", "units": "PERCENT"}
  ],
  "interval_period": {"start": "2024-06-01T19:00:00+02:00", "duration": "PT15M", "randomize_start": "PT2M"},
  "intervals": [
    {"id": 0, "payloads": [{"type": "PRICE", "values": [0.31]},
                           {"type": "IMPORT_CAPACITY_LIMIT", "values": [5.5]}]},
    {"id": 1, "interval_period": {"duration": "PT30M"},
     "payloads": [{"type": "SIMPLE", "values": [2]}]},
    {"id": 7, "interval_period": {"randomize_start": "PT0S"},
     "payloads": [{"type": "CHARGE_STATE_SETPOINT", "values": [80]}]}
  ]
})";

TEST(DrEvent, FullExample) {
  const DrEvent e = parse_ok(kFullExample);
  EXPECT_EQ(e.event_id, "evt-2024-06-01-peak");
  EXPECT_EQ(e.program, "summer-peak");
  EXPECT_EQ(e.name, "Peak shave, 1 June");
  EXPECT_EQ(e.priority, 1u);
  EXPECT_EQ(e.modification_number, 3u);
  EXPECT_EQ(e.created_ms, ts("2024-05-31T12:00:00Z"));
  EXPECT_EQ(e.modified_ms, ts("2024-05-31T12:30:00.250Z"));
  EXPECT_FALSE(e.cancelled);
  EXPECT_EQ(e.targets, (std::vector<std::string>{"battery-1", "ev-garage"}));
  EXPECT_EQ(e.randomize_start_ms, 2 * kMinute);
  ASSERT_EQ(e.payload_descriptors.size(), 3u);
  EXPECT_EQ(e.payload_descriptors[0].type, PayloadType::kPrice);
  EXPECT_EQ(e.payload_descriptors[0].units, "KWH");
  EXPECT_EQ(e.payload_descriptors[0].currency, "EUR");
  EXPECT_EQ(e.payload_descriptors[1].currency, std::nullopt);

  // Sequential intervals: 17:00 for 15 min, 17:15 for 30 min (own duration), 17:45 for 15 min.
  const std::int64_t start = ts("2024-06-01T17:00:00Z");
  ASSERT_EQ(e.intervals.size(), 3u);
  EXPECT_EQ(e.intervals[0].id, 0);
  EXPECT_EQ(e.intervals[0].start_ms, start);
  EXPECT_EQ(e.intervals[0].duration_ms, 15 * kMinute);
  EXPECT_EQ(e.intervals[1].start_ms, start + 15 * kMinute);
  EXPECT_EQ(e.intervals[1].duration_ms, 30 * kMinute);
  EXPECT_EQ(e.intervals[2].id, 7);
  EXPECT_EQ(e.intervals[2].start_ms, start + 45 * kMinute);
  EXPECT_EQ(e.intervals[2].duration_ms, 15 * kMinute);
  EXPECT_EQ(e.effective_randomize_start_ms(e.intervals[0]), 2 * kMinute);
  EXPECT_EQ(e.effective_randomize_start_ms(e.intervals[2]), 0);  // overridden

  const Payload& price = e.intervals[0].payloads[0];
  EXPECT_EQ(price.type, PayloadType::kPrice);
  EXPECT_EQ(price.number(), Decimal{310'000});
  ASSERT_NE(e.descriptor_for(price), nullptr);
  EXPECT_EQ(e.descriptor_for(price)->units, "KWH");
  EXPECT_EQ(e.intervals[0].payloads[1].number(), Decimal{5'500'000});
  EXPECT_EQ(e.intervals[1].payloads[0].number(), Decimal::units(2));
  EXPECT_EQ(e.descriptor_for(e.intervals[1].payloads[0]), nullptr);
}

TEST(DrEvent, CanonicalJson) {
  const DrEvent e = parse_ok(kFullExample);
  EXPECT_EQ(to_json(e),
            R"({"event_id":"evt-2024-06-01-peak","program":"summer-peak","name":"Peak shave, 1 June","priority":1,)"
            R"("modification_number":3,"created":"2024-05-31T12:00:00Z","modified":"2024-05-31T12:30:00.250Z",)"
            R"("cancelled":false,"targets":["battery-1","ev-garage"],"payload_descriptors":[{"payload_type":"PRICE",)"
            R"("units":"KWH","currency":"EUR"},{"payload_type":"IMPORT_CAPACITY_LIMIT","units":"KW"},)"
            R"({"payload_type":"CHARGE_STATE_SETPOINT","units":"PERCENT"}],"interval_period":{"randomize_start":"PT2M"},)"
            R"("intervals":[{"id":0,"interval_period":{"start":"2024-06-01T17:00:00Z","duration":"PT15M"},)"
            R"("payloads":[{"type":"PRICE","values":[0.31]},{"type":"IMPORT_CAPACITY_LIMIT","values":[5.5]}]},)"
            R"({"id":1,"interval_period":{"start":"2024-06-01T17:15:00Z","duration":"PT30M"},)"
            R"("payloads":[{"type":"SIMPLE","values":[2]}]},{"id":7,"interval_period":{"start":"2024-06-01T17:45:00Z",)"
            R"("duration":"PT15M","randomize_start":"PT0S"},"payloads":[{"type":"CHARGE_STATE_SETPOINT","values":[80]}]}]})");
}

TEST(DrEvent, MinimalEventDefaults) {
  const DrEvent e = parse_ok(event_with(R"({"type":"SIMPLE","values":[1]})"));
  EXPECT_EQ(e.priority, kLowestPriority);
  EXPECT_EQ(e.modification_number, 0u);
  EXPECT_EQ(e.created_ms, std::nullopt);
  EXPECT_EQ(e.modified_ms, std::nullopt);
  EXPECT_TRUE(e.name.empty());
  EXPECT_TRUE(e.targets.empty());
  EXPECT_EQ(e.randomize_start_ms, 0);
  EXPECT_EQ(e.intervals[0].randomize_start_ms, std::nullopt);
}

TEST(DrEvent, NullMeansAbsent) {
  const DrEvent e = parse_ok(event_with(R"({"type":"SIMPLE","values":[1]})",
                                        R"("name":null,"priority":null,"targets":null,"payload_descriptors":null,)"));
  EXPECT_EQ(e.priority, kLowestPriority);
  EXPECT_TRUE(e.targets.empty());
}

TEST(DrEvent, EveryPayloadType) {
  struct Case {
    const char* payload;
    PayloadType type;
    PayloadValue value;
  };
  const Case cases[] = {
      {R"({"type":"SIMPLE","values":[0]})", PayloadType::kSimple, Decimal::units(0)},
      {R"({"type":"SIMPLE","values":[3]})", PayloadType::kSimple, Decimal::units(3)},
      {R"({"type":"SIMPLE","values":[3.0]})", PayloadType::kSimple, Decimal::units(3)},
      {R"({"type":"PRICE","values":[-0.05]})", PayloadType::kPrice, Decimal{-50'000}},
      {R"({"type":"EXPORT_PRICE","values":[0.082]})", PayloadType::kExportPrice, Decimal{82'000}},
      {R"({"type":"GHG","values":[412.5]})", PayloadType::kGhg, Decimal{412'500'000}},
      {R"({"type":"IMPORT_CAPACITY_LIMIT","values":[0]})", PayloadType::kImportCapacityLimit, Decimal{0}},
      {R"({"type":"EXPORT_CAPACITY_LIMIT","values":[7.36]})", PayloadType::kExportCapacityLimit, Decimal{7'360'000}},
      {R"({"type":"DISPATCH_SETPOINT","values":[-3.3]})", PayloadType::kDispatchSetpoint, Decimal{-3'300'000}},
      {R"({"type":"DISPATCH_SETPOINT_RELATIVE","values":[-1.5]})", PayloadType::kDispatchSetpointRelative,
       Decimal{-1'500'000}},
      {R"({"type":"CHARGE_STATE_SETPOINT","values":[100]})", PayloadType::kChargeStateSetpoint, Decimal::units(100)},
      {R"({"type":"CONTROL_SETPOINT","values":[21.5]})", PayloadType::kControlSetpoint, Decimal{21'500'000}},
      {R"({"type":"CONTROL_SETPOINT","values":["ECO"]})", PayloadType::kControlSetpoint, std::string("ECO")},
      {R"({"type":"CONTROL_SETPOINT","values":[true]})", PayloadType::kControlSetpoint, true},
      {R"({"type":"CONTROL_SETPOINT","values":[{"x":1,"y":2.5}]})", PayloadType::kControlSetpoint,
       PayloadPoint{Decimal::units(1), Decimal{2'500'000}}},
  };
  for (const Case& c : cases) {
    const DrEvent e = parse_ok(event_with(c.payload));
    ASSERT_EQ(e.intervals.size(), 1u) << c.payload;
    ASSERT_EQ(e.intervals[0].payloads.size(), 1u) << c.payload;
    const Payload& p = e.intervals[0].payloads[0];
    EXPECT_EQ(p.type, c.type) << c.payload;
    EXPECT_TRUE(p.unknown_type.empty()) << c.payload;
    ASSERT_EQ(p.values.size(), 1u) << c.payload;
    EXPECT_EQ(p.values[0], c.value) << c.payload;
  }
}

TEST(DrEvent, ChargeStateInKwhMayExceedHundred) {
  const DrEvent e = parse_ok(event_with(R"({"type":"CHARGE_STATE_SETPOINT","values":[120]})",
                                        R"("payload_descriptors":[{"payload_type":"CHARGE_STATE_SETPOINT","units":"KWH"}],)"));
  EXPECT_EQ(e.intervals[0].payloads[0].number(), Decimal::units(120));
}

TEST(DrEvent, UnknownPayloadTypesAreKeptByName) {
  const DrEvent e = parse_ok(event_with(
      R"({"type":"CURVE","values":[{"x":0,"y":1},{"x":2.5,"y":-1}]},{"type":"ALERT_FLEX_ALERT","values":["save power"]},)"
      R"({"type":"x-vendor-mode","values":[1,true,"a",{"x":0,"y":0}]},{"type":"OLS","values":[]})",
      R"("payload_descriptors":[{"payload_type":"x-vendor-mode","units":"WIDGETS"}],)"));
  const auto& payloads = e.intervals[0].payloads;
  ASSERT_EQ(payloads.size(), 4u);
  EXPECT_EQ(payloads[0].type, PayloadType::kUnknown);
  EXPECT_EQ(payloads[0].type_name(), "CURVE");
  EXPECT_EQ(payloads[0].values.size(), 2u);
  EXPECT_EQ(payloads[1].type_name(), "ALERT_FLEX_ALERT");
  EXPECT_EQ(payloads[2].type_name(), "x-vendor-mode");
  EXPECT_EQ(payloads[2].values.size(), 4u);
  EXPECT_EQ(payloads[2].number(), std::nullopt);
  ASSERT_NE(e.descriptor_for(payloads[2]), nullptr);
  EXPECT_EQ(e.descriptor_for(payloads[2])->units, "WIDGETS");
  EXPECT_TRUE(payloads[3].values.empty());
}

TEST(DrEvent, OpenAdrNowStart) {
  for (const char* now : {"0001-01-01T00:00:00Z", "0001-01-01", "0001-01-01T00:00:00"}) {
    const DrEvent e = parse_ok(std::string(R"({"event_id":"e","program":"p","interval_period":{"start":")") + now +
                               R"(","duration":"PT15M"},"intervals":[{"id":0,"payloads":[]},{"id":1,"payloads":[]}]})");
    ASSERT_EQ(e.intervals.size(), 2u) << now;
    EXPECT_FALSE(e.cancelled);
    EXPECT_EQ(e.intervals[0].start_ms, kStartNowMs) << now;
    EXPECT_TRUE(is_relative_to_now(e.intervals[0].start_ms));
    // The second interval starts 15 minutes after "now".
    EXPECT_EQ(e.intervals[1].start_ms, kStartNowMs + 15 * kMinute);
    EXPECT_TRUE(is_relative_to_now(e.intervals[1].start_ms));
    EXPECT_EQ(resolve_start_ms(e.intervals[1].start_ms, 1'000'000), 1'000'000 + 15 * kMinute);
  }
  EXPECT_EQ(resolve_start_ms(5'000, 1'000'000), 5'000);
}

TEST(DrEvent, OpenEndedInterval) {
  const DrEvent e = parse_ok(R"({"event_id":"e","program":"p","intervals":[{"id":0,)"
                             R"("interval_period":{"start":"2024-06-01T17:00:00Z","duration":"P9999Y"},)"
                             R"("payloads":[{"type":"IMPORT_CAPACITY_LIMIT","values":[11]}]}]})");
  EXPECT_TRUE(e.intervals[0].open_ended());
  EXPECT_EQ(e.intervals[0].duration_ms, kOpenEndedMs);
  EXPECT_NE(to_json(e).find("\"P9999Y\""), std::string::npos);
}

TEST(DrEvent, OpenAdrCancelForm) {
  // On the event: the intervals inherit "now" and PT0S.
  const DrEvent a = parse_ok(R"({"event_id":"e","program":"p",)"
                             R"("interval_period":{"start":"0001-01-01T00:00:00Z","duration":"PT0S"},)"
                             R"("intervals":[{"id":0,"payloads":[{"type":"SIMPLE","values":[0]}]}]})");
  EXPECT_TRUE(a.cancelled);
  // On the event with no intervals left.
  const DrEvent b = parse_ok(R"({"event_id":"e","program":"p",)"
                             R"("interval_period":{"start":"0001-01-01","duration":"PT0S"},"intervals":[]})");
  EXPECT_TRUE(b.cancelled);
  EXPECT_TRUE(b.intervals.empty());
  // On every interval.
  const DrEvent c = parse_ok(R"({"event_id":"e","program":"p","intervals":[)"
                             R"({"id":0,"interval_period":{"start":"0001-01-01T00:00:00Z","duration":"PT0S"},"payloads":[]},)"
                             R"({"id":1,"interval_period":{"start":"0001-01-01T00:00:00Z","duration":"PT0S"},"payloads":[]}]})");
  EXPECT_TRUE(c.cancelled);
  // Our own flag.
  const DrEvent d = parse_ok(event_with(R"({"type":"SIMPLE","values":[1]})", R"("cancelled":true,)"));
  EXPECT_TRUE(d.cancelled);
  const DrEvent f = parse_ok(R"({"event_id":"e","program":"p","cancelled":true,"intervals":[]})");
  EXPECT_TRUE(f.cancelled);
}

TEST(DrEvent, IntervalsOverrideTheEventPeriod) {
  const DrEvent e = parse_ok(R"({"event_id":"e","program":"p",)"
                             R"("interval_period":{"start":"2024-06-01T17:00:00Z","duration":"PT1H"},"intervals":[)"
                             R"({"id":0,"interval_period":{"start":"2024-06-02T08:00:00Z"},"payloads":[]},)"
                             R"({"id":1,"payloads":[]},)"
                             R"({"id":2,"interval_period":{"start":"2024-06-01T00:00:00Z","duration":"PT5M"},"payloads":[]}]})");
  EXPECT_EQ(e.intervals[0].start_ms, ts("2024-06-02T08:00:00Z"));
  EXPECT_EQ(e.intervals[0].duration_ms, kHour);
  EXPECT_EQ(e.intervals[1].start_ms, ts("2024-06-02T09:00:00Z"));  // after the previous one
  EXPECT_EQ(e.intervals[2].start_ms, ts("2024-06-01T00:00:00Z"));  // order is the sender's
  EXPECT_EQ(e.intervals[2].duration_ms, 5 * kMinute);
}

TEST(DrEvent, RoundTripsEscapesAndExtremes) {
  parse_ok(R"({"event_id":"E_-9","program":"p","name":"quote \" backslash \\ tab \t unicode \u00e9 \ud83d\ude00",)"
           R"("priority":4294967294,"modification_number":4294967295,"targets":["a/b","~x"],)"
           R"("interval_period":{"start":"9999-12-31T23:00:00Z","duration":"PT1H","randomize_start":"P1D"},)"
           R"("intervals":[{"id":-2147483648,"payloads":[{"type":"PRICE","values":[-1000000000000]},)"
           R"({"type":"GHG","values":[0.000001]}]},{"id":2147483647,"interval_period":{"start":"1970-01-01T00:00:00Z",)"
           R"("duration":"P3660D"},"payloads":[{"type":"x","values":[]}]}]})");
}

// Each refusal names the field and says why.
TEST(DrEventErrors, JsonAndSize) {
  EXPECT_EQ(parse_error(std::string(kMaxEventJsonBytes + 1, ' ')), "event larger than 65536 bytes");
  EXPECT_NE(parse_error("").find("invalid JSON"), std::string::npos);
  EXPECT_NE(parse_error("{").find("invalid JSON"), std::string::npos);
  EXPECT_NE(parse_error(R"({"event_id":"e"} x)").find("invalid JSON"), std::string::npos);
  EXPECT_NE(parse_error("{\"name\":\"\xff\"}").find("invalid JSON"), std::string::npos);
  EXPECT_EQ(parse_error("[]"), "expected an object, not an array");
  EXPECT_EQ(parse_error("null"), "expected an object, not null");
  EXPECT_EQ(parse_error(R"({"event_id":"a","event_id":"b"})"), "/event_id: appears twice in the object");
  EXPECT_EQ(parse_error(R"({"name":[[[[[[[[1]]]]]]]]})"), "/name/0/0/0/0/0/0: nested deeper than 8 levels");
}

TEST(DrEventErrors, TopLevelFields) {
  const std::string p = R"({"type":"SIMPLE","values":[1]})";
  EXPECT_EQ(parse_error(R"({"program":"p","intervals":[]})"), "/event_id: required field is missing");
  EXPECT_EQ(parse_error(R"({"event_id":"e","intervals":[]})"), "/program: required field is missing");
  EXPECT_EQ(parse_error(R"({"event_id":"e","program":"p"})"), "/intervals: required field is missing");
  EXPECT_EQ(parse_error(event_with(p, R"("priorty":1,)")), "/priorty: unknown field");
  EXPECT_EQ(parse_error(event_with(p, R"("a/b~":1,)")), "/a~1b~0: unknown field");
  EXPECT_EQ(parse_error(R"({"event_id":"","program":"p","intervals":[]})"), "/event_id: must not be empty");
  EXPECT_EQ(parse_error(R"({"event_id":"a b","program":"p","intervals":[]})"),
            "/event_id: may contain only letters, digits, '_' and '-'");
  EXPECT_EQ(parse_error(R"({"event_id":7,"program":"p","intervals":[]})"), "/event_id: expected a string, not a number");
  EXPECT_EQ(parse_error(R"({"event_id":")" + std::string(129, 'a') + R"(","program":"p","intervals":[]})"),
            "/event_id: longer than 128 bytes");
  EXPECT_EQ(parse_error(event_with(p, R"("program":"p",)")), "/program: appears twice in the object");
  EXPECT_EQ(parse_error(event_with(p, R"("name":false,)")), "/name: expected a string, not a boolean");
  EXPECT_EQ(parse_error(event_with(p, R"("priority":-1,)")), "/priority: expected an integer 0..4294967295");
  EXPECT_EQ(parse_error(event_with(p, R"("priority":4294967296,)")), "/priority: expected an integer 0..4294967295");
  EXPECT_EQ(parse_error(event_with(p, R"("priority":1.5,)")), "/priority: expected an integer 0..4294967295");
  EXPECT_EQ(parse_error(event_with(p, R"("priority":"1",)")),
            "/priority: expected an integer 0..4294967295, not a string");
  EXPECT_EQ(parse_error(event_with(p, R"("modification_number":1e2,)")),
            "/modification_number: expected an integer 0..4294967295");
  EXPECT_EQ(parse_error(event_with(p, R"("created":"yesterday",)")),
            "/created: expected an RFC 3339 timestamp like 2024-06-01T17:00:00Z");
  EXPECT_EQ(parse_error(event_with(p, R"("modified":"2024-06-01T17:00:00",)")),
            "/modified: missing offset: end with Z or +HH:MM (local times are ambiguous)");
  EXPECT_EQ(parse_error(event_with(p, R"("cancelled":"yes",)")), "/cancelled: expected a boolean, not a string");
  EXPECT_EQ(parse_error(event_with(p, R"("targets":"all",)")), "/targets: expected an array, not a string");
  EXPECT_EQ(parse_error(event_with(p, R"("targets":["a",""],)")), "/targets/1: must not be empty");
  EXPECT_EQ(parse_error(event_with(p, R"("targets":["a","a"],)")), "/targets/1: appears twice");
  std::string many_targets = R"("targets":[)";
  for (std::size_t i = 0; i <= kMaxTargets; ++i) many_targets += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  EXPECT_EQ(parse_error(event_with(p, many_targets + "],")), "/targets: more than 128 items");
}

TEST(DrEventErrors, PayloadDescriptors) {
  const std::string p = R"({"type":"SIMPLE","values":[1]})";
  EXPECT_EQ(parse_error(event_with(p, R"("payload_descriptors":[{"units":"KW"}],)")),
            "/payload_descriptors/0/payload_type: required field is missing");
  EXPECT_EQ(parse_error(event_with(p, R"("payload_descriptors":[{"payload_type":"PRICE","unit":"KW"}],)")),
            "/payload_descriptors/0/unit: unknown field");
  EXPECT_EQ(parse_error(event_with(p, R"("payload_descriptors":[{"payload_type":"PRICE","units":""}],)")),
            "/payload_descriptors/0/units: must not be empty");
  EXPECT_EQ(parse_error(event_with(p, R"("payload_descriptors":[{"payload_type":"PRICE","currency":3}],)")),
            "/payload_descriptors/0/currency: expected a string, not a number");
  EXPECT_EQ(parse_error(event_with(p, R"("payload_descriptors":[{"payload_type":"PRICE"},{"payload_type":"PRICE"}],)")),
            "/payload_descriptors/1/payload_type: a second descriptor for PRICE");
  EXPECT_EQ(parse_error(event_with(p, R"("payload_descriptors":["PRICE"],)")),
            "/payload_descriptors/0: expected an object, not a string");
}

TEST(DrEventErrors, Intervals) {
  const std::string start = R"({"event_id":"e","program":"p",)";
  EXPECT_EQ(parse_error(start + R"("intervals":{}})"), "/intervals: expected an array, not an object");
  EXPECT_EQ(parse_error(start + R"("intervals":[]})"), "/intervals: an event needs at least one interval (unless cancelled)");
  EXPECT_EQ(parse_error(start + R"("intervals":[{"id":0,"payloads":[]}]})"),
            "/intervals/0: no start: set interval_period.start on the event or on the interval");
  EXPECT_EQ(parse_error(start + R"("intervals":[{"id":0,"interval_period":{"start":"2024-06-01T17:00:00Z"},"payloads":[]}]})"),
            "/intervals/0: no duration: set interval_period.duration on the event or on the interval");
  const std::string period = R"("interval_period":{"start":"2024-06-01T17:00:00Z","duration":"PT1H"},)";
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"payloads":[]}]})"), "/intervals/0/id: required field is missing");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":0}]})"), "/intervals/0/payloads: required field is missing");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":0,"payloads":[],"extra":1}]})"),
            "/intervals/0/extra: unknown field");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":2147483648,"payloads":[]}]})"),
            "/intervals/0/id: expected an integer -2147483648..2147483647");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":1,"payloads":[]},{"id":1,"payloads":[]}]})"),
            "/intervals/1/id: interval id 1 appears twice");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[3]})"), "/intervals/0: expected an object, not a number");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":0,"interval_period":{"begin":"x"},"payloads":[]}]})"),
            "/intervals/0/interval_period/begin: unknown field");
  EXPECT_EQ(parse_error(start + R"("interval_period":{"start":"2024-06-01T17:00:00Z","duration":"PT0S"},)" +
                        R"("intervals":[{"id":0,"payloads":[]}]})"),
            "/interval_period/duration: must be longer than PT0S (PT0S with start \"now\" is OpenADR's cancel form)");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":0,"interval_period":{"duration":"PT0S"},"payloads":[]}]})"),
            "/intervals/0/interval_period/duration: must be longer than PT0S (PT0S with start \"now\" is OpenADR's cancel form)");
  EXPECT_EQ(parse_error(start + period + R"("intervals":[{"id":0,"interval_period":{"duration":"P9999Y"},"payloads":[]},)" +
                        R"({"id":1,"payloads":[]}]})"),
            "/intervals/1: no start, and the interval before is open-ended");
  EXPECT_EQ(parse_error(start + R"("interval_period":{"start":"0001-01-01","duration":"P200D"},)" +
                        R"("intervals":[{"id":0,"payloads":[]},{"id":1,"payloads":[]},{"id":2,"payloads":[]}]})"),
            "/intervals/2: no start, and the interval before ends more than a year after \"now\"");
  EXPECT_EQ(parse_error(start + R"("interval_period":{"start":"9999-12-31T23:00:00Z","duration":"PT1H"},)" +
                        R"("intervals":[{"id":0,"payloads":[]},{"id":1,"payloads":[]}]})"),
            "/intervals/1: no start, and the interval before ends after year 9999");
  std::string many = start + period + R"("intervals":[)";
  for (std::size_t i = 0; i <= kMaxIntervals; ++i) many += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(i) + R"(,"payloads":[]})";
  EXPECT_EQ(parse_error(many + "]}"), "/intervals: more than 512 items");
}

TEST(DrEventErrors, IntervalPeriods) {
  const auto with_period = [](std::string_view period) {
    return std::string(R"({"event_id":"e","program":"p","interval_period":)") + std::string(period) +
           R"(,"intervals":[{"id":0,"payloads":[]}]})";
  };
  EXPECT_EQ(parse_error(with_period(R"("PT1H")")), "/interval_period: expected an object, not a string");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01","duration":"PT1H"})")),
            "/interval_period/start: expected an RFC 3339 timestamp like 2024-06-01T17:00:00Z");
  EXPECT_EQ(parse_error(with_period(R"({"start":"1960-06-01T00:00:00Z","duration":"PT1H"})")),
            "/interval_period/start: before 1970 (only year 0001 has a meaning: relative to \"now\")");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01T17:00:00Z","duration":"P1M"})")),
            "/interval_period/duration: years and months have no fixed length; use weeks or days (only P9999Y, "
            "open-ended, is accepted)");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01T17:00:00Z","duration":"P3661D"})")),
            "/interval_period/duration: longer than P3660D");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01T17:00:00Z","duration":3600})")),
            "/interval_period/duration: expected a string, not a number");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01T17:00:00Z","duration":"PT1H","randomize_start":"PT25H"})")),
            "/interval_period/randomize_start: longer than P1D");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01T17:00:00Z","duration":"PT1H","randomize_start":"P9999Y"})")),
            "/interval_period/randomize_start: may not be open-ended (P9999Y)");
  EXPECT_EQ(parse_error(with_period(R"({"start":"2024-06-01T17:00:00Z","duration":"PT1H","randomize_start":"-PT1M"})")),
            "/interval_period/randomize_start: negative durations are not accepted");
}

TEST(DrEventErrors, Payloads) {
  EXPECT_EQ(parse_error(event_with(R"({"values":[1]})")), "/intervals/0/payloads/0/type: required field is missing");
  EXPECT_EQ(parse_error(event_with(R"({"type":"SIMPLE"})")), "/intervals/0/payloads/0/values: required field is missing");
  EXPECT_EQ(parse_error(event_with(R"({"type":"","values":[]})")), "/intervals/0/payloads/0/type: must not be empty");
  EXPECT_EQ(parse_error(event_with(R"({"type":"SIMPLE","values":[1],"units":"KW"})")),
            "/intervals/0/payloads/0/units: unknown field");
  EXPECT_EQ(parse_error(event_with(R"({"type":"PRICE","values":[1]},{"type":"PRICE","values":[2]})")),
            "/intervals/0/payloads/1/type: PRICE appears twice in this interval");
  EXPECT_EQ(parse_error(event_with(R"({"type":"SIMPLE","values":[1]},{"type":"PRICE","values":["0.3"]})")),
            "/intervals/0/payloads/1/values: expected an array of numbers");
  EXPECT_EQ(parse_error(event_with(R"({"type":"PRICE","values":0.3})")),
            "/intervals/0/payloads/0/values: expected an array of numbers, not a number");
  EXPECT_EQ(parse_error(event_with(R"({"type":"PRICE","values":[]})")),
            "/intervals/0/payloads/0/values: PRICE takes exactly one value");
  EXPECT_EQ(parse_error(event_with(R"({"type":"PRICE","values":[1,2]})")),
            "/intervals/0/payloads/0/values: PRICE takes exactly one value");
  EXPECT_EQ(parse_error(event_with(R"({"type":"PRICE","values":[1e13]})")),
            "/intervals/0/payloads/0/values/0: out of range (magnitude above 1e12)");
  for (const char* bad : {"4", "-1", "1.5"}) {
    EXPECT_EQ(parse_error(event_with(std::string(R"({"type":"SIMPLE","values":[)") + bad + "]}")),
              "/intervals/0/payloads/0/values/0: SIMPLE takes a level 0, 1, 2 or 3")
        << bad;
  }
  for (const char* type : {"GHG", "IMPORT_CAPACITY_LIMIT", "EXPORT_CAPACITY_LIMIT", "CHARGE_STATE_SETPOINT"}) {
    EXPECT_EQ(parse_error(event_with(std::string(R"({"type":")") + type + R"(","values":[-0.1]})")),
              std::string("/intervals/0/payloads/0/values/0: ") + type + " must not be negative");
  }
  EXPECT_EQ(parse_error(event_with(R"({"type":"CHARGE_STATE_SETPOINT","values":[100.5]})")),
            "/intervals/0/payloads/0/values/0: CHARGE_STATE_SETPOINT in PERCENT must be 0..100");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CHARGE_STATE_SETPOINT","values":[101]})",
                                   R"("payload_descriptors":[{"payload_type":"CHARGE_STATE_SETPOINT","units":"PERCENT"}],)")),
            "/intervals/0/payloads/0/values/0: CHARGE_STATE_SETPOINT in PERCENT must be 0..100");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CONTROL_SETPOINT","values":[]})")),
            "/intervals/0/payloads/0/values: CONTROL_SETPOINT takes exactly one value");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CONTROL_SETPOINT","values":[null]})")),
            "/intervals/0/payloads/0/values/0: expected a number, string, boolean or point {x, y}, not null");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CURVE","values":[[1,2]]})")),
            "/intervals/0/payloads/0/values/0: expected a number, string, boolean or point {x, y}, not an array");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CURVE","values":[{"x":1}]})")),
            "/intervals/0/payloads/0/values/0/y: required field is missing");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CURVE","values":[{"x":1,"y":"2"}]})")),
            "/intervals/0/payloads/0/values/0/y: expected a number, not a string");
  EXPECT_EQ(parse_error(event_with(R"({"type":"CURVE","values":[{"x":1,"y":2,"z":3}]})")),
            "/intervals/0/payloads/0/values/0/z: unknown field");
  EXPECT_EQ(parse_error(event_with(R"({"type":"ALERT_FIRE","values":[")" + std::string(129, 'x') + R"("]})")),
            "/intervals/0/payloads/0/values/0: longer than 128 bytes");
  std::string many_values = R"({"type":"OLS","values":[)";
  for (std::size_t i = 0; i <= kMaxValuesPerPayload; ++i) many_values += i ? ",0" : "0";
  EXPECT_EQ(parse_error(event_with(many_values + "]}")), "/intervals/0/payloads/0/values: more than 64 items");
  std::string many_payloads;
  for (std::size_t i = 0; i <= kMaxPayloadsPerInterval; ++i) {
    many_payloads += (i ? "," : "") + std::string(R"({"type":"T)") + std::to_string(i) + R"(","values":[]})";
  }
  EXPECT_EQ(parse_error(event_with(many_payloads)), "/intervals/0/payloads: more than 16 items");
}

TEST(DrEvent, PayloadTypeNames) {
  for (const PayloadType t : {PayloadType::kSimple, PayloadType::kPrice, PayloadType::kExportPrice, PayloadType::kGhg,
                              PayloadType::kImportCapacityLimit, PayloadType::kExportCapacityLimit,
                              PayloadType::kDispatchSetpoint, PayloadType::kDispatchSetpointRelative,
                              PayloadType::kChargeStateSetpoint, PayloadType::kControlSetpoint}) {
    EXPECT_FALSE(to_string(t).empty());
    EXPECT_EQ(payload_type_from_name(to_string(t)), t);
  }
  EXPECT_EQ(to_string(PayloadType::kUnknown), "");
  EXPECT_EQ(payload_type_from_name("price"), PayloadType::kUnknown);  // names are case-sensitive
}

TEST(DrEvent, ToJsonNeverThrowsOnHandMadeStrings) {
  DrEvent e;
  e.event_id = "e";
  e.program = "p";
  e.name = "bad \xff utf-8";
  EXPECT_NO_THROW((void)to_json(e));
}

}  // namespace
