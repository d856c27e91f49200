// Token file: create, load, authenticate; file modes; malformed lines; duplicate names; revoke.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <fstream>
#include <random>

#include "gateway/api/auth.hpp"

namespace gridlet::api {
namespace {

namespace fs = std::filesystem;

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("gridlet_api_auth_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(rd()));
    fs::create_directories(dir_);
    path_ = dir_ / "tokens";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_file(const std::string& text, mode_t mode) {
    std::ofstream(path_) << text;
    ::chmod(path_.c_str(), mode);
  }
  mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
  }

  fs::path dir_;
  fs::path path_;
};

const std::string kHash(64, 'a');

TEST(RoleTest, RoundTrips) {
  for (Role r : {Role::kViewer, Role::kInstaller, Role::kManager, Role::kAggregator}) {
    EXPECT_EQ(parse_role(to_string(r)), r);
  }
  EXPECT_FALSE(parse_role("admin"));
  EXPECT_FALSE(parse_role("Viewer"));
}

TEST_F(TokenStoreTest, MissingFileIsEmptyStore) {
  std::string error;
  auto store = TokenStore::load(path_, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->size(), 0u);
  EXPECT_FALSE(store->authenticate("glt_anything"));
}

// A FIFO with no writer would block a plain open() forever (and a reload with it).
TEST_F(TokenStoreTest, FifoIsRefusedAtOnce) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  auto loading = std::async(std::launch::async, [&] {
    std::string error;
    const bool loaded = TokenStore::load(path_, &error) != nullptr;
    return std::make_pair(loaded, error);
  });
  if (loading.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    const int unblock = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);  // lets the reader finish
    if (unblock >= 0) ::close(unblock);
    FAIL() << "load() of a FIFO did not return";
  }
  const auto [loaded, error] = loading.get();
  EXPECT_FALSE(loaded);
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  std::string list_error;
  EXPECT_FALSE(TokenStore::list(path_, &list_error));
  EXPECT_NE(list_error.find("not a regular file"), std::string::npos) << list_error;
}

TEST_F(TokenStoreTest, ListShowsNamesRolesAndTimesInFileOrder) {
  std::string error;
  ASSERT_TRUE(TokenStore::create(path_, Role::kManager, "m", &error)) << error;
  ASSERT_TRUE(TokenStore::create(path_, Role::kViewer, "v", &error)) << error;
  const auto list = TokenStore::list(path_, &error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "m");
  EXPECT_EQ((*list)[0].role, Role::kManager);
  EXPECT_GT((*list)[0].created_unix_s, 0);
  EXPECT_EQ((*list)[1].name, "v");
}

TEST_F(TokenStoreTest, CreateLoadAuthenticate) {
  std::string error;
  const auto viewer = TokenStore::create(path_, Role::kViewer, "dashboard", &error);
  ASSERT_TRUE(viewer) << error;
  const auto installer = TokenStore::create(path_, Role::kInstaller, "laptop-1", &error);
  ASSERT_TRUE(installer) << error;
  EXPECT_EQ(viewer->rfind("glt_", 0), 0u);
  EXPECT_EQ(viewer->size(), 4u + 43u);  // 32 bytes -> 43 base64url characters, no padding
  EXPECT_EQ(viewer->find_first_not_of(
                "glt_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_NE(*viewer, *installer);
  EXPECT_EQ(mode_of(path_), 0600u);
  EXPECT_FALSE(fs::exists(path_.string() + ".tmp"));

  // Only hashes are stored.
  std::ifstream in(path_);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(*viewer), std::string::npos);
  EXPECT_EQ(text.find(viewer->substr(4)), std::string::npos);

  auto store = TokenStore::load(path_, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->size(), 2u);
  const auto who = store->authenticate(*viewer);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "dashboard");
  EXPECT_EQ(who->role, Role::kViewer);
  EXPECT_GT(who->created_unix_s, 1'600'000'000);
  const auto who2 = store->authenticate(*installer);
  ASSERT_TRUE(who2);
  EXPECT_EQ(who2->role, Role::kInstaller);
  EXPECT_FALSE(store->authenticate(*viewer + "x"));
  EXPECT_FALSE(store->authenticate(""));
}

TEST_F(TokenStoreTest, CreateKeepsModeEvenWithPermissiveUmask) {
  const mode_t old = ::umask(0);
  std::string error;
  const auto token = TokenStore::create(path_, Role::kManager, "m", &error);
  ::umask(old);
  ASSERT_TRUE(token) << error;
  EXPECT_EQ(mode_of(path_), 0600u);
}

TEST_F(TokenStoreTest, LoadRefusesGroupOrOtherAccess) {
  write_file("# empty\n", 0644);
  std::string error;
  EXPECT_FALSE(TokenStore::load(path_, &error));
  EXPECT_NE(error.find("chmod 600 " + path_.string()), std::string::npos) << error;
  error.clear();
  ::chmod(path_.c_str(), 0640);
  EXPECT_FALSE(TokenStore::load(path_, &error));
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  ::chmod(path_.c_str(), 0600);
  EXPECT_TRUE(TokenStore::load(path_, &error)) << error;
}

TEST_F(TokenStoreTest, CreateRefusesPermissiveExistingFile) {
  write_file("", 0644);
  std::string error;
  EXPECT_FALSE(TokenStore::create(path_, Role::kViewer, "v", &error));
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(path_.string() + ".tmp"));
}

TEST_F(TokenStoreTest, MalformedLinesNameTheLine) {
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"# c\n\n" + kHash + " viewer a\n", ":3:"},                                  // 3 fields
      {kHash + " viewer a 1\n" + std::string(63, 'a') + " viewer b 1\n", ":2:"},  // short hash
      {kHash + " admin a 1\n", ":1: unknown role"},
      {"# x\n" + kHash + " viewer bad/name 1\n", ":2:"},
      {kHash + " viewer a -5\n", ":1:"},
      {kHash + " viewer a 12x\n", ":1:"},
      {std::string(64, 'A') + " viewer a 1\n", ":1:"},  // upper-case hex
      {kHash + " viewer a 1 extra\n", ":1:"},
  };
  for (const auto& c : cases) {
    write_file(c.text, 0600);
    std::string error;
    EXPECT_FALSE(TokenStore::load(path_, &error)) << c.text;
    EXPECT_NE(error.find(path_.string() + c.expect), std::string::npos)
        << "text: " << c.text << "error: " << error;
  }
}

TEST_F(TokenStoreTest, DuplicatesInFileAreErrors) {
  write_file(kHash + " viewer a 1\n" + std::string(64, 'b') + " manager a 2\n", 0600);
  std::string error;
  EXPECT_FALSE(TokenStore::load(path_, &error));
  EXPECT_NE(error.find(":2: duplicate token name 'a' (also on line 1)"), std::string::npos)
      << error;
  write_file(kHash + " viewer a 1\n" + kHash + " manager b 2\n", 0600);
  EXPECT_FALSE(TokenStore::load(path_, &error));
  EXPECT_NE(error.find(":2: duplicate token hash"), std::string::npos) << error;
}

TEST_F(TokenStoreTest, CommentsAndCrlfAccepted) {
  write_file("# header\r\n  # indented comment\r\n" + kHash + "\tviewer a 1\r\n\r\n", 0600);
  std::string error;
  auto store = TokenStore::load(path_, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->size(), 1u);
}

TEST_F(TokenStoreTest, DuplicateNameRefused) {
  std::string error;
  ASSERT_TRUE(TokenStore::create(path_, Role::kViewer, "ha", &error)) << error;
  EXPECT_FALSE(TokenStore::create(path_, Role::kManager, "ha", &error));
  EXPECT_NE(error.find("already exists"), std::string::npos) << error;
  auto store = TokenStore::load(path_, &error);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 1u);
}

TEST_F(TokenStoreTest, InvalidNameRefused) {
  std::string error;
  EXPECT_FALSE(TokenStore::create(path_, Role::kViewer, "", &error));
  EXPECT_FALSE(TokenStore::create(path_, Role::kViewer, "has space", &error));
  EXPECT_FALSE(TokenStore::create(path_, Role::kViewer, std::string(65, 'n'), &error));
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(TokenStoreTest, StaleTempFileBlocksWritersWithClearMessage) {
  std::ofstream(path_.string() + ".tmp") << "x";
  std::string error;
  EXPECT_FALSE(TokenStore::create(path_, Role::kViewer, "v", &error));
  EXPECT_NE(error.find(".tmp exists"), std::string::npos) << error;
  // The temporary file belongs to someone else: it must survive our failure.
  EXPECT_TRUE(fs::exists(path_.string() + ".tmp"));
}

TEST_F(TokenStoreTest, RevokeRemovesOnlyThatToken) {
  std::string error;
  const auto a = TokenStore::create(path_, Role::kViewer, "a", &error);
  const auto b = TokenStore::create(path_, Role::kManager, "b", &error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_TRUE(TokenStore::revoke(path_, "a", &error)) << error;
  EXPECT_FALSE(TokenStore::revoke(path_, "a", &error));
  EXPECT_EQ(mode_of(path_), 0600u);
  auto store = TokenStore::load(path_, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_FALSE(store->authenticate(*a));
  EXPECT_TRUE(store->authenticate(*b));
}

}  // namespace
}  // namespace gridlet::api
