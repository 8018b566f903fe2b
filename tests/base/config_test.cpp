#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/base/check.h"
#include "core/base/config.h"
#include "tests/test_support.h"

namespace rt {
namespace {

const char* kText = R"(
[train]
epochs = 3
lr = 0.5
name = "run"
hidden = [4, 8]
verbose = true
)";

using testing::error_message;

TEST(Config, ReadsTypedValuesAndDefaults) {
  Config config = Config::load_string(kText, "test.toml");
  EXPECT_EQ(config.get_int("train.epochs", 1, 1, 100), 3);
  EXPECT_DOUBLE_EQ(config.get_double("train.lr", 0.1, 0, 1), 0.5);
  EXPECT_EQ(config.get_string("train.name", ""), "run");
  EXPECT_EQ(config.get_int_list("train.hidden", {}, 1, 100), (std::vector<int64_t>{4, 8}));
  EXPECT_TRUE(config.get_bool("train.verbose", false));
  EXPECT_EQ(config.get_int("train.missing", 42, 0, 100), 42);
  EXPECT_NO_THROW(config.reject_unknown_keys());
}

TEST(Config, IntegerIsAcceptedWhereANumberIsExpected) {
  Config config = Config::load_string("[a]\nx = 2\n", "t.toml");
  EXPECT_DOUBLE_EQ(config.get_double("a.x", 0, 0, 10), 2.0);
}

TEST(Config, UnknownKeyIsNamedWithTheFile) {
  Config config = Config::load_string("[train]\nepochs = 3\nepohcs = 4\n", "job.toml");
  config.get_int("train.epochs", 1, 1, 100);
  std::string text = error_message([&] { config.reject_unknown_keys(); });
  EXPECT_NE(text.find("job.toml"), std::string::npos) << text;
  EXPECT_NE(text.find("train.epohcs"), std::string::npos) << text;
  EXPECT_NE(text.find("not a known key"), std::string::npos) << text;
}

TEST(Config, KeysLeftForLaterAreCheckedWhenTheirReaderHasRead) {
  Config config = Config::load_string("[train]\nepochs = 3\n[model]\nkind = \"mine\"\nunits = 4\nuints = 5\n", "job.toml");
  config.get_int("train.epochs", 1, 1, 100);
  config.check_keys_later("model.");
  EXPECT_NO_THROW(config.reject_unknown_keys());  // model.* is a later reader's
  config.get_string("model.kind", "");
  config.get_int("model.units", 1, 1, 100);
  std::string text = error_message([&] { config.reject_unknown_keys_under("model."); });
  EXPECT_NE(text.find("model.uints"), std::string::npos) << text;
  EXPECT_EQ(text.find("model.units"), std::string::npos) << text;
}

TEST(Config, WrongTypeIsNamed) {
  Config config = Config::load_string("[train]\nepochs = \"three\"\n", "job.toml");
  std::string text = error_message([&] { config.get_int("train.epochs", 1, 1, 100); });
  EXPECT_NE(text.find("job.toml"), std::string::npos) << text;
  EXPECT_NE(text.find("train.epochs must be an integer"), std::string::npos) << text;
}

TEST(Config, OutOfRangeIsNamed) {
  Config config = Config::load_string("[train]\nepochs = 0\nlr = -1.0\n", "job.toml");
  EXPECT_NE(error_message([&] { config.get_int("train.epochs", 1, 1, 100); }).find("train.epochs = 0 is out of range [1, 100]"),
            std::string::npos);
  EXPECT_NE(error_message([&] { config.get_double("train.lr", 1, 0, 10); }).find("train.lr = -1 is out of range"),
            std::string::npos);
}

TEST(Config, StringOutsideItsChoicesIsNamed) {
  Config config = Config::load_string("[runtime]\ndevice = \"tpu\"\n", "job.toml");
  std::string text = error_message([&] { config.get_string("runtime.device", "cpu", {"cpu", "cuda"}); });
  EXPECT_NE(text.find("runtime.device = \"tpu\" is not one of: cpu, cuda"), std::string::npos) << text;
}

TEST(Config, OverridesKeepTheirTypeAndNameThemselvesInErrors) {
  Config config = Config::load_string(kText, "job.toml",
                                      {"train.epochs=7", "train.hidden=[16, 32]", "data.dir=/mnt/x y", "train.lr=abc"});
  EXPECT_EQ(config.get_int("train.epochs", 1, 1, 100), 7);
  EXPECT_EQ(config.get_int_list("train.hidden", {}, 1, 100), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(config.get_string("data.dir", ""), "/mnt/x y");
  std::string text = error_message([&] { config.get_double("train.lr", 0.1, 0, 1); });
  EXPECT_NE(text.find("--set train.lr=abc"), std::string::npos) << text;
  EXPECT_NE(text.find("must be a number, not string \"abc\""), std::string::npos) << text;
}

TEST(Config, OverrideOfUnknownKeyIsRejected) {
  Config config = Config::load_string(kText, "job.toml", {"train.epoch=5"});
  config.get_string("train.name", "");
  config.get_int("train.epochs", 1, 1, 100);
  config.get_double("train.lr", 0.1, 0, 1);
  config.get_int_list("train.hidden", {}, 1, 100);
  config.get_bool("train.verbose", false);
  std::string text = error_message([&] { config.reject_unknown_keys(); });
  EXPECT_NE(text.find("--set train.epoch=5"), std::string::npos) << text;
}

TEST(Config, MalformedOverrideIsRejected) {
  EXPECT_NE(error_message([] { Config::load_string("", "t", {"novalue"}); }).find("expected section.key=value"),
            std::string::npos);
  EXPECT_NE(error_message([] { Config::load_string("[a]\nb = 1\n", "t", {"a.b.c=1"}); }).find("'b' is not a section"),
            std::string::npos);
}

TEST(Config, EnvironmentVariablesExpandInPaths) {
  setenv("RINGTRAIN_TEST_INPUT", "/mnt/batchai/input", 1);
  Config config = Config::load_string("[data]\ndir = \"${RINGTRAIN_TEST_INPUT}/train\"\n", "job.toml");
  EXPECT_EQ(config.get_path("data.dir", ""), "/mnt/batchai/input/train");
}

TEST(Config, UnsetEnvironmentVariableIsNamed) {
  unsetenv("RINGTRAIN_TEST_UNSET");
  Config config = Config::load_string("[data]\ndir = \"${RINGTRAIN_TEST_UNSET}/train\"\n", "job.toml");
  std::string text = error_message([&] { config.get_path("data.dir", ""); });
  EXPECT_NE(text.find("data.dir"), std::string::npos) << text;
  EXPECT_NE(text.find("RINGTRAIN_TEST_UNSET is not set"), std::string::npos) << text;
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  testing::TempDir dir;
  std::string path = dir.file("bad.toml");
  std::ofstream(path) << "[train]\nepochs = 3\nlr = = 2\n";
  std::string text = error_message([&] { Config::load_file(path); });
  EXPECT_NE(text.find(path + " line 3"), std::string::npos) << text;
}

TEST(Config, MissingFileIsNamed) {
  std::string text = error_message([] { Config::load_file("/nonexistent/job.toml"); });
  EXPECT_NE(text.find("/nonexistent/job.toml"), std::string::npos) << text;
}

}  // namespace
}  // namespace rt
