#include "gateway/api/auth.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <span>
#include <vector>

#include "adapters/device.hpp"
#include "gateway/api/limits.hpp"
#include "ledger/crypto/sha256.hpp"

namespace gridlet::api {
namespace {

constexpr std::string_view kTokenPrefix = "glt_";
constexpr std::string_view kFileHeader =
    "# Gridlet API tokens: <sha256-hex> <role> <name> <created-unix-s>\n"
    "# Managed by 'gatewayd token'; holds hashes only. Keep this file mode 0600.\n";

struct Record {
  std::string hash;
  TokenInfo info;
  int line = 0;
};

std::string errno_text(int err) { return std::strerror(err); }

bool valid_hash(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string hash_token(std::string_view token) {
  const auto digest = crypto::sha256(token);
  return crypto::to_hex(digest);
}

std::string base64url(std::span<const std::uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                            std::uint32_t{bytes[i + 2]};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

// Reads the whole tokens file. *exists is false (and true is returned) when there is no file.
// Refuses files accessible by group or other, non-regular files and oversized files. O_NONBLOCK:
// opening a FIFO (or a device) must not wait for a writer; fstat then refuses it. A symbolic link
// to a regular file is followed (secret stores mount them so).
bool read_tokens_file(const std::filesystem::path& path, std::string* text, bool* exists,
                      std::string* error) {
  text->clear();
  *exists = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    *error = "cannot open tokens file " + path.string() + ": " + errno_text(errno);
    return false;
  }
  struct stat st {};
  bool ok = true;
  if (::fstat(fd, &st) != 0) {
    *error = "cannot stat tokens file " + path.string() + ": " + errno_text(errno);
    ok = false;
  } else if (!S_ISREG(st.st_mode)) {
    *error = "tokens file " + path.string() +
             " is not a regular file (a FIFO, device or directory); point api.tokens_file at a "
             "file written by 'gatewayd token create'";
    ok = false;
  } else if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *error = "tokens file " + path.string() + " is accessible by group or other (mode " + mode +
             "); run: chmod 600 " + path.string();
    ok = false;
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxTokensFileBytes) {
    *error = "tokens file " + path.string() + " is larger than " +
             std::to_string(kMaxTokensFileBytes) + " bytes";
    ok = false;
  }
  while (ok) {
    char buf[8192];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = "cannot read tokens file " + path.string() + ": " + errno_text(errno);
      ok = false;
    } else if (n == 0) {
      break;
    } else {
      text->append(buf, static_cast<std::size_t>(n));
      if (text->size() > kMaxTokensFileBytes) {
        *error = "tokens file " + path.string() + " is too large";
        ok = false;
      }
    }
  }
  ::close(fd);
  if (ok) *exists = true;
  return ok;
}

bool parse_tokens(const std::filesystem::path& path, std::string_view text,
                  std::vector<Record>* records, std::string* error) {
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Split on spaces and tabs.
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      std::size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      fields.push_back(line.substr(i, j - i));
      i = j;
    }
    if (fields.empty() || fields[0].front() == '#') continue;
    const std::string where = path.string() + ":" + std::to_string(line_no) + ": ";
    if (fields.size() != 4) {
      *error = where + "expected '<sha256-hex> <role> <name> <created-unix-s>', found " +
               std::to_string(fields.size()) + " fields";
      return false;
    }
    Record r;
    r.line = line_no;
    if (!valid_hash(fields[0])) {
      *error = where + "token hash must be 64 lower-case hex digits";
      return false;
    }
    r.hash = std::string(fields[0]);
    const auto role = parse_role(fields[1]);
    if (!role) {
      *error = where + "unknown role '" + std::string(fields[1]) +
               "' (viewer, installer, manager, aggregator)";
      return false;
    }
    r.info.role = *role;
    if (!adapters::valid_name(fields[2])) {
      *error = where + "token name must be 1..64 characters of [A-Za-z0-9_.-]";
      return false;
    }
    r.info.name = std::string(fields[2]);
    const auto ts = fields[3];
    const auto [ptr, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), r.info.created_unix_s);
    if (ec != std::errc() || ptr != ts.data() + ts.size() || r.info.created_unix_s < 0) {
      *error = where + "created time must be non-negative Unix seconds";
      return false;
    }
    for (const auto& other : *records) {
      if (other.hash == r.hash) {
        *error = where + "duplicate token hash (also on line " + std::to_string(other.line) + ")";
        return false;
      }
      if (other.info.name == r.info.name) {
        *error = where + "duplicate token name '" + r.info.name + "' (also on line " +
                 std::to_string(other.line) + ")";
        return false;
      }
    }
    records->push_back(std::move(r));
  }
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A rewrite of the tokens file in progress: the temporary file is created first (O_EXCL, so it
// is also the writers' lock), then filled, synced and renamed over the file. The destructor
// removes the temporary file unless commit() succeeded.
class FileRewrite {
 public:
  explicit FileRewrite(std::filesystem::path path)
      : path_(std::move(path)), tmp_(path_.string() + ".tmp") {}
  ~FileRewrite() {
    if (fd_ >= 0) ::close(fd_);
    if (locked_ && !committed_) ::unlink(tmp_.c_str());
  }
  FileRewrite(const FileRewrite&) = delete;
  FileRewrite& operator=(const FileRewrite&) = delete;

  bool lock(std::string* error) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      if (errno == EEXIST) {
        *error = tmp_.string() +
                 " exists: another token change is in progress, or a crash left it behind "
                 "(remove it if no other change is running)";
      } else {
        *error = "cannot create " + tmp_.string() + ": " + errno_text(errno);
      }
      return false;
    }
    locked_ = true;
    // The umask may only have narrowed the mode; make sure it is exactly 0600.
    if (::fchmod(fd_, 0600) != 0) {
      *error = "cannot chmod " + tmp_.string() + ": " + errno_text(errno);
      return false;
    }
    return true;
  }

  bool commit(std::string_view content, std::string* error) {
    if (!write_all(fd_, content) || ::fsync(fd_) != 0) {
      *error = "cannot write " + tmp_.string() + ": " + errno_text(errno);
      return false;
    }
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) {
      *error = "cannot write " + tmp_.string() + ": " + errno_text(errno);
      return false;
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      *error = "cannot rename " + tmp_.string() + " to " + path_.string() + ": " +
               errno_text(errno);
      return false;
    }
    committed_ = true;
    // Make the rename itself durable.
    std::filesystem::path dir = path_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
      *error = "cannot sync directory " + dir.string() + ": " + errno_text(errno);
      if (dfd >= 0) ::close(dfd);
      return false;
    }
    ::close(dfd);
    return true;
  }

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool locked_ = false;
  bool committed_ = false;
};

}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kInstaller: return "installer";
    case Role::kManager: return "manager";
    case Role::kAggregator: return "aggregator";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") return Role::kViewer;
  if (text == "installer") return Role::kInstaller;
  if (text == "manager") return Role::kManager;
  if (text == "aggregator") return Role::kAggregator;
  return std::nullopt;
}

std::unique_ptr<TokenStore> TokenStore::load(const std::filesystem::path& path,
                                             std::string* error) {
  std::string text;
  bool exists = false;
  if (!read_tokens_file(path, &text, &exists, error)) return nullptr;
  std::vector<Record> records;
  if (!parse_tokens(path, text, &records, error)) return nullptr;
  auto store = std::unique_ptr<TokenStore>(new TokenStore());
  for (auto& r : records) store->by_hash_.emplace(std::move(r.hash), std::move(r.info));
  return store;
}

std::unique_ptr<TokenStore> TokenStore::refusing_all(std::string problem) {
  auto store = std::unique_ptr<TokenStore>(new TokenStore());
  store->problem_ = std::move(problem);
  return store;
}

std::optional<std::vector<TokenInfo>> TokenStore::list(const std::filesystem::path& path,
                                                       std::string* error) {
  std::string text;
  bool exists = false;
  if (!read_tokens_file(path, &text, &exists, error)) return std::nullopt;
  std::vector<Record> records;
  if (!parse_tokens(path, text, &records, error)) return std::nullopt;
  std::vector<TokenInfo> out;
  out.reserve(records.size());
  for (auto& r : records) out.push_back(std::move(r.info));
  return out;
}

std::optional<std::string> TokenStore::create(const std::filesystem::path& path, Role role,
                                              std::string_view name, std::string* error) {
  if (!adapters::valid_name(name)) {
    *error = "token name must be 1..64 characters of [A-Za-z0-9_.-]";
    return std::nullopt;
  }
  FileRewrite rewrite(path);
  if (!rewrite.lock(error)) return std::nullopt;
  // Read under the lock so a concurrent writer cannot make us drop its record.
  std::string text;
  bool exists = false;
  if (!read_tokens_file(path, &text, &exists, error)) return std::nullopt;
  std::vector<Record> records;
  if (!parse_tokens(path, text, &records, error)) return std::nullopt;
  for (const auto& r : records) {
    if (r.info.name == name) {
      *error = "a token named '" + std::string(name) + "' already exists (line " +
               std::to_string(r.line) + "); revoke it first or pick another name";
      return std::nullopt;
    }
  }

  std::array<std::uint8_t, kTokenSecretBytes> secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    *error = "cannot generate random token (RAND_bytes failed)";
    return std::nullopt;
  }
  std::string token = std::string(kTokenPrefix) + base64url(secret);

  if (!exists) text = std::string(kFileHeader);
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += hash_token(token) + " " + std::string(to_string(role)) + " " + std::string(name) + " " +
          std::to_string(static_cast<std::int64_t>(std::time(nullptr))) + "\n";
  if (!rewrite.commit(text, error)) return std::nullopt;
  return token;
}

bool TokenStore::revoke(const std::filesystem::path& path, std::string_view name,
                        std::string* error) {
  FileRewrite rewrite(path);
  if (!rewrite.lock(error)) return false;
  std::string text;
  bool exists = false;
  if (!read_tokens_file(path, &text, &exists, error)) return false;
  std::vector<Record> records;
  if (!parse_tokens(path, text, &records, error)) return false;
  int line = 0;
  for (const auto& r : records) {
    if (r.info.name == name) line = r.line;
  }
  if (line == 0) {
    *error = "no token named '" + std::string(name) + "' in " + path.string();
    return false;
  }
  // Keep every other line (comments included) as it was.
  std::string out;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    if (line_no != line) {
      out.append(text, pos, end - pos);
      out += '\n';
    }
    pos = end + 1;
  }
  return rewrite.commit(out, error);
}

std::optional<TokenInfo> TokenStore::authenticate(std::string_view bearer_token) const {
  if (bearer_token.empty()) return std::nullopt;
  const std::string hash = hash_token(bearer_token);
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || !crypto::constant_time_equal(it->first, hash)) return std::nullopt;
  return it->second;
}

}  // namespace gridlet::api
