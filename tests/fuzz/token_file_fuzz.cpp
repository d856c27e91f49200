// Fuzzes the tokens file parser: any file content loads or is refused with a message; never a
// crash. (The file is read from disk, as the daemon does.)
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/api/auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("gridlet-token-fuzz-" + std::to_string(::getpid()));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ::chmod(file.c_str(), 0600);
  std::string error;
  auto store = gridlet::api::TokenStore::load(file, &error);
  if (!store && error.empty()) std::abort();
  if (store) {
    // Any bearer string derived from the input is answered without a crash.
    (void)store->authenticate(std::string_view(reinterpret_cast<const char*>(data), size));
  }
  return 0;
}
