// SHA-256 for the ledger (transaction ids, tagged hashes) and for the gateway's token hashes.
// Pure function of its input; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace gridlet::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::span<const std::uint8_t> data);
Sha256Digest sha256(std::string_view data);

// Lower-case hexadecimal, 64 characters.
std::string to_hex(std::span<const std::uint8_t> bytes);

// Compares two byte strings in time independent of where they differ (for secrets).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace gridlet::crypto
