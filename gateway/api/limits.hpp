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
// A connection has this long to send a request's line and headers (also the idle time allowed
// between keep-alive requests); api.header_timeout overrides it. Short, so that connections that
// trickle headers (slowloris) cannot hold the server.
inline constexpr std::chrono::seconds kDefaultHeaderTimeout{5};
inline constexpr std::chrono::seconds kReadTimeout{10};     // per request body, after the headers
inline constexpr std::chrono::seconds kWriteTimeout{10};    // per response
// After an error response that closes the connection, unread request bytes are drained (so the
// client sees our answer rather than a reset) for at most this long / this many bytes.
inline constexpr std::chrono::seconds kLingerTimeout{2};
inline constexpr std::size_t kMaxLingerBytes = 2 * kMaxBodyBytes;
// Open connections (api.max_connections): beyond it, the connection that has waited longest for
// its request headers is closed to make room; when none is waiting, the new one gets a 503.
inline constexpr std::size_t kDefaultMaxConnections = 64;
// Connections from one IP address (api.max_connections_per_address); beyond it, a 503.
inline constexpr std::size_t kDefaultMaxConnectionsPerAddress = 16;
// Connections still sending request headers, or idle between keep-alive requests
// (api.max_header_connections); beyond it, the one that has waited longest is closed.
inline constexpr std::size_t kDefaultMaxHeaderConnections = 32;
// Requests served on one keep-alive connection before it is closed (bounds a hogging client).
inline constexpr std::size_t kMaxRequestsPerConnection = 10000;
// Threads for short blocking work off the event loop (waiting for an audit row to commit).
inline constexpr std::size_t kWorkerThreads = 1;
// Threads that run store queries (history, event and audit logs). Ingest never runs on them.
inline constexpr std::size_t kQueryThreads = 2;
// Queries accepted at once (running or waiting for a query thread); more are answered 503 with
// Retry-After, so heavy queries cannot pile up.
inline constexpr std::size_t kMaxQueriesInFlight = 4;
// Retry-After (seconds) sent with 503 (ingest queue full, disk full, connection limit reached,
// too many queries).
inline constexpr int kRetryAfterSeconds = 1;

// --- Requests (router.cpp) ---
inline constexpr std::size_t kMaxSamplesPerRequest = 10000;  // POST /api/v1/samples
inline constexpr std::size_t kMaxUnitLength = 16;            // unit symbols ("W", "kWh", "%")
inline constexpr std::size_t kMaxHistoryRows = 10000;        // rows in one history answer
inline constexpr std::int64_t kDefaultHistoryRangeMs = 24LL * 3600 * 1000;    // from = to - 24 h
inline constexpr std::int64_t kMaxHistoryRangeMs = 400LL * 24 * 3600 * 1000;  // to - from

// --- Token file (auth.cpp) ---
inline constexpr std::size_t kMaxTokensFileBytes = 1024 * 1024;
inline constexpr std::size_t kTokenSecretBytes = 32;  // random bytes behind each token

}  // namespace gridlet::api
