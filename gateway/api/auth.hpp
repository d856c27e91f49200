// API authentication: bearer tokens, each with a role, kept as SHA-256 hashes in a tokens file.
//
// Tokens file format (text, one record per line; blank lines and lines starting with '#' ignored):
//
//   <sha256-hex> <role> <name> <created-unix-s>
//   e.g. 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 viewer dashboard 1764064800
//
//   sha256-hex      64 lower-case hex digits: SHA-256 of the whole token text ("glt_...")
//   role            viewer | installer | manager | aggregator
//   name            1..64 characters of [A-Za-z0-9_.-], unique in the file
//   created-unix-s  decimal Unix seconds
//
// The plaintext token ("glt_" + base64url of 32 random bytes, no padding) is shown once by
// create() and never stored. The file must not be readable by group or other (chmod 600): load()
// refuses it otherwise. create() and revoke() rewrite it atomically (temporary file created with
// O_EXCL and mode 0600, fsync, rename, fsync of the directory); the temporary file doubles as a
// lock, so concurrent writers fail instead of losing a record.
// Thread: a loaded TokenStore is immutable and safe to read from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridlet::api {

enum class Role : std::uint8_t { kViewer, kInstaller, kManager, kAggregator };

std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct TokenInfo {
  std::string name;
  Role role = Role::kViewer;
  std::int64_t created_unix_s = 0;
};

class TokenStore {
 public:
  // Loads the tokens file. A missing file gives an empty store (every protected route answers
  // 401). Returns nullptr and sets *error when the file is accessible by group/other, unreadable,
  // too large, or has a malformed line (the message names the line number).
  static std::unique_ptr<TokenStore> load(const std::filesystem::path& path, std::string* error);

  // A store that authenticates nobody, for a reload that could not use the tokens file: a
  // revocation must not fail open. `problem` says why (shown in /api/v1/health).
  static std::unique_ptr<TokenStore> refusing_all(std::string problem);

  // The tokens in the file, in file order: names, roles and creation times, never hashes.
  // nullopt (and *error) under the same conditions as load().
  static std::optional<std::vector<TokenInfo>> list(const std::filesystem::path& path,
                                                    std::string* error);

  // Creates a token with this role and name, appends its hash to the file (created with 0600 if
  // missing) and returns the plaintext token, which is never stored. Returns nullopt and sets
  // *error when the name is invalid or already used, or the file cannot be read or written.
  static std::optional<std::string> create(const std::filesystem::path& path, Role role,
                                           std::string_view name, std::string* error);

  // Removes the token with this name. Returns false and sets *error when there is none or the
  // file cannot be rewritten.
  static bool revoke(const std::filesystem::path& path, std::string_view name, std::string* error);

  // The token's owner and role, or nullopt when the token is unknown.
  std::optional<TokenInfo> authenticate(std::string_view bearer_token) const;

  std::size_t size() const { return by_hash_.size(); }
  // Why this store refuses every token ("" for a store loaded from a good file).
  const std::string& problem() const { return problem_; }

 private:
  // Keyed by the hex SHA-256 of the token. Looking up by hash in an ordered map is not a timing
  // leak worth closing: the key is the hash of a 256-bit random secret, so how far a comparison
  // gets says nothing usable about any token. The final check still uses constant_time_equal.
  std::map<std::string, TokenInfo, std::less<>> by_hash_;
  std::string problem_;
};

}  // namespace gridlet::api
