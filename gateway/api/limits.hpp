// Every limit of the HTTP API in one place: a request, a connection, a query or a token file that
// would exceed one of these is refused with a stated error, never served partially.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace gridlet::api {

// --- Connections (server.cpp) ---
inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;   // larger -> 413
inline constexpr std::size_t kMaxHeaderBytes = 8 * 1024;    // start line + headers; larger -> 431
inline constexpr std::chrono::seconds kReadTimeout{10};     // per request (headers and body)
inline constexpr std::chrono::seconds kWriteTimeout{10};    // per response
// After an error response that closes the connection, unread request bytes are drained (so the
// client sees our answer rather than a reset) for at most this long / this many bytes.
inline constexpr std::chrono::seconds kLingerTimeout{2};
inline constexpr std::size_t kMaxLingerBytes = 2 * kMaxBodyBytes;
// Requests served on one keep-alive connection before it is closed (bounds a hogging client).
inline constexpr std::size_t kMaxRequestsPerConnection = 10000;
// Threads that run store queries and series lookups off the event loop.
inline constexpr std::size_t kWorkerThreads = 1;
// Retry-After (seconds) sent with 503 (ingest queue full, connection limit reached).
inline constexpr int kRetryAfterSeconds = 1;

// --- Requests (router.cpp) ---
inline constexpr std::size_t kMaxSamplesPerRequest = 10000;  // POST /api/v1/samples
inline constexpr std::size_t kMaxNameLength = 64;            // device and point names
inline constexpr std::size_t kMaxUnitLength = 16;            // unit symbols ("W", "kWh", "%")
inline constexpr std::size_t kMaxHistoryRows = 10000;        // rows in one history answer
inline constexpr std::int64_t kDefaultHistoryRangeMs = 24LL * 3600 * 1000;    // from = to - 24 h
inline constexpr std::int64_t kMaxHistoryRangeMs = 400LL * 24 * 3600 * 1000;  // to - from

// --- Token file (auth.cpp) ---
inline constexpr std::size_t kMaxTokensFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxTokenNameLength = 64;
inline constexpr std::size_t kTokenSecretBytes = 32;  // random bytes behind each token

}  // namespace gridlet::api
