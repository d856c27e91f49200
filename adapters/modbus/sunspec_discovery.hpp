// SunSpec discovery and model decoding, over an abstract register reader so the same code serves
// Modbus TCP, RTU and in-memory fakes.
//
// discover(): probe the base addresses (40000, 0, 50000) for "SunS", walk the model chain (ID, L,
// then L registers) to the end marker 0xFFFF, keep unknown models (skipped by length), and read
// model 1's identity strings. Every read is at most 125 registers; the walk is bounded (max models,
// end of the address space), so a garbage chain ends in an error, never a loop.
//
// read_model(): read one model instance as a consistent block (values and their scale factors
// from the same moment), also when it takes several requests.
//
// decode_model(): turn the registers of one whole model instance (from read_model, so values and
// their scale factors come from the same moment) into named points, with "not implemented"
// sentinels mapped to missing. decode_model_into() does the same into a DecodedModel it reuses.
//
// Everything here is synchronous and runs on the caller's thread (a bus worker); no state is kept
// between calls.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/modbus/sunspec_models.hpp"

namespace gridlet::adapters::sunspec {

// Modbus limit for one "read holding registers" request.
inline constexpr std::uint16_t kMaxRegistersPerRead = 125;
// "SunS" as two registers.
inline constexpr std::uint16_t kSunSpecMarker0 = 0x5375;
inline constexpr std::uint16_t kSunSpecMarker1 = 0x6E53;
inline constexpr std::uint16_t kEndMarkerId = 0xFFFF;

// Outcome of one read request.
struct ReadStatus {
  enum class Kind : std::uint8_t {
    kOk,
    kTimeout,    // no answer in time
    kException,  // Modbus exception; see exception_code (2 = illegal data address)
    kMalformed,  // a reply that could not be used
    kIoError,    // connection or line failure; also "not sent" (unit offline, queue full)
    // read_model: a model read in several requests whose scale factors (or repeat counts) kept
    // changing between the requests, so no consistent block could be read. The device answers;
    // this model's values are just not usable this time.
    kInconsistent,
  };
  Kind kind = Kind::kOk;
  std::uint8_t exception_code = 0;

  static constexpr ReadStatus ok() { return {}; }
  static constexpr ReadStatus timeout() { return {Kind::kTimeout, 0}; }
  static constexpr ReadStatus exception(std::uint8_t code) { return {Kind::kException, code}; }
  static constexpr ReadStatus malformed() { return {Kind::kMalformed, 0}; }
  static constexpr ReadStatus io_error() { return {Kind::kIoError, 0}; }
  static constexpr ReadStatus inconsistent() { return {Kind::kInconsistent, 0}; }
  bool is_ok() const { return kind == Kind::kOk; }
  friend bool operator==(const ReadStatus&, const ReadStatus&) = default;
};

// "ok", "timeout", "exception 2", "malformed", "io error",
// "inconsistent (scale factors changed during the read)"
std::string to_string(ReadStatus s);

// Reads holding registers of one device (one unit id). Implemented by the bus code and by fakes.
class RegisterReader {
 public:
  virtual ~RegisterReader();
  // Reads `count` registers (1..125, address + count <= 65536) starting at the 0-based protocol
  // address `address` into out[0, count); out.size() >= count. On failure `out` is unspecified.
  virtual ReadStatus read_holding(std::uint16_t address, std::uint16_t count,
                                  std::span<std::uint16_t> out) = 0;
};

// Reads registers [address, address + count) into `out` (resized to count) in as few requests of at
// most `max_per_read` registers as possible. Fails if the range passes register 65535.
ReadStatus read_registers(RegisterReader& reader, std::uint16_t address, std::uint32_t count,
                          std::vector<std::uint16_t>& out,
                          std::uint16_t max_per_read = kMaxRegistersPerRead);

struct DiscoveryOptions {
  std::vector<std::uint16_t> base_addresses = {40000, 0, 50000};  // probed in this order
  std::size_t max_models = 64;  // a longer chain is taken as garbage (kTooManyModels)
  std::uint16_t max_registers_per_read = kMaxRegistersPerRead;  // clamped to 1..125
  // A base that times out may just be an unmapped range on a device that does not raise
  // exceptions; keep probing. An I/O error always stops discovery.
  bool next_base_on_timeout = true;
};

enum class DiscoveryError : std::uint8_t {
  kNone,
  kNotSunSpec,             // no probed base holds "SunS" (see probes)
  kReadFailed,             // a read after "SunS" failed (see read_status); models so far are kept
  kNoEndMarker,            // the chain reaches register 65535 without an end marker
  kModelPastAddressSpace,  // a model's L runs past register 65535; that model is dropped
  kTooManyModels,          // more than max_models models without an end marker
};
std::string_view to_string(DiscoveryError e);

// How a model's L compares with our table.
enum class LengthCheck : std::uint8_t {
  kOk,             // matches (fixed models), or consistent with the repeat rule
  kUnknownModel,   // not in our tables: not checked
  kMismatch,       // fixed-length model with a different L (warning: decode what fits)
  kPartialRepeat,  // repeating model whose L leaves a partial instance (warning)
  kTooShort,       // L shorter than the model's fixed part (warning: decode what fits)
};
std::string_view to_string(LengthCheck c);

struct DiscoveredModel {
  std::uint16_t id = 0;
  std::uint16_t address = 0;  // protocol address of the ID register
  std::uint16_t length = 0;   // L: registers after L
  bool known = false;         // in our tables (find_model(id) != nullptr)
  LengthCheck length_check = LengthCheck::kUnknownModel;
  // For LengthRule::kFillRepeats models (160): whole instances of the repeating group that fit in
  // L. Count-point models (705...) need their registers read: see decode_model.
  std::optional<std::uint16_t> repeats;
};

// Identity from model 1, strings with trailing NULs and spaces trimmed.
struct CommonInfo {
  std::string manufacturer;                     // Mn
  std::string model;                            // Md
  std::string options;                          // Opt
  std::string version;                          // Vr
  std::string serial;                           // SN
  std::optional<std::uint16_t> device_address;  // DA, missing when 0xFFFF
};

struct BaseProbe {
  std::uint16_t address = 0;
  ReadStatus status;
  bool marker_found = false;
};

struct DiscoveryResult {
  std::optional<std::uint16_t> base;    // where "SunS" was found
  std::vector<BaseProbe> probes;        // each base tried, in order
  std::vector<DiscoveredModel> models;  // chain order; the end marker is not listed
  bool end_marker_found = false;
  DiscoveryError error = DiscoveryError::kNone;
  ReadStatus read_status;            // the failing read, for kReadFailed
  std::optional<CommonInfo> common;  // from the first model 1 in the chain
  std::size_t requests = 0;          // read requests issued

  bool complete() const { return error == DiscoveryError::kNone; }
};

DiscoveryResult discover(RegisterReader& reader, const DiscoveryOptions& options = {});

// Reads one whole model instance (ID, L and L registers) into `out` (resized to 2 + L) as one
// consistent block: values and their scale factors from the same moment.
//
// A model that fits in one request (2 + L <= max_per_read) costs exactly one request. A longer
// known model (find_model(id)) is read in as few requests as possible, cut only between points
// (a multi-register point is never split, unless it alone is longer than max_per_read); then the
// registers holding its scale factors and repeat counts that were read before the last request
// are read once more (one small request for every model in our tables) and compared. If any
// changed, the whole model is read again, at most kModelReadRetries times; if it never settles
// the result is ReadStatus::inconsistent() and `out` is empty. Unknown models are read in plain
// chunks of max_per_read, unchecked. On another failure that read's status is returned and `out`
// is unspecified.
inline constexpr int kModelReadRetries = 2;
ReadStatus read_model(RegisterReader& reader, const DiscoveredModel& model,
                      std::vector<std::uint16_t>& out,
                      std::uint16_t max_per_read = kMaxRegistersPerRead);

// One decoded point of a model block.
struct DecodedPoint {
  // "W", "DCW_SF", "module[1].DCA", "Crv[0].Pt[2].V", "PFWInj.PF": repeated group instances are
  // indexed from 0, a group that occurs once is named without an index.
  std::string path;
  const PointDef* def = nullptr;
  std::uint32_t offset = 0;  // registers from the model's ID register
  // False when the device reports "not implemented" (0x8000, 0xFFFF, 0x80000000, NaN, all-zero
  // string, ...) or the point lies beyond the block. acc16/32/64 have no sentinel: 0 is a value.
  bool present = false;
  std::uint64_t raw = 0;  // the registers, first register most significant; not sign-extended
  std::string text;       // kString: the text, trailing NULs and spaces trimmed
  // The point's scale-factor exponent, from the same block (nullopt: no sf, or the sf is missing
  // or outside -10..10).
  std::optional<std::int8_t> scale_factor;
  // raw (sign-extended or as float) x 10^scale_factor; nullopt when missing, when a required scale
  // factor is missing, or for strings and address types. enums/bitfields: the raw number.
  std::optional<double> value;
};

enum class DecodeIssue : std::uint8_t {
  kNone,
  kShortBlock,     // the block is shorter than the model's fixed part or the counts say
  kPartialRepeat,  // a "fill the model" group leaves a partial instance
  kBadCount,       // a count point is missing
};

struct DecodedModel {
  std::uint16_t id = 0;
  std::uint16_t length = 0;          // L as read
  std::vector<DecodedPoint> points;  // in register order; pads left out
  DecodeIssue issue = DecodeIssue::kNone;

  const DecodedPoint* find(std::string_view path) const;
};

// Decodes `block` (registers from the model's ID register on; at most 2 + L of them are used)
// against `def`. Never fails: what does not fit is missing and `issue` says why.
DecodedModel decode_model(const ModelDef& def, std::span<const std::uint16_t> block);

// decode_model for callers that decode the same model over and over (the pollers): leaves in `out`
// exactly what `out = decode_model(def, block)` would, but reuses `out`'s storage (the points and
// their path and text strings), so decoding a block with the same layout as the last one
// allocates nothing. Returns true when the points' paths differ from those `out` held before (the
// first decode into it, a changed repeat count, another model), so a caller keeping something per
// point (names, indices) knows to rebuild it; false when they are the same, in the same order.
// `out` must be empty or hold what decode_model or decode_model_into left there (the points'
// paths are trusted to match their definitions, so unchanged ones are not rewritten).
bool decode_model_into(const ModelDef& def, std::span<const std::uint16_t> block,
                       DecodedModel& out);

// Model 1's identity from its decoded block.
CommonInfo common_info(const DecodedModel& common);

}  // namespace gridlet::adapters::sunspec
