// The run's metrics file: rows appended, never lost; a resume marks the rows it repeats
// superseded; the CSV beside it follows the rows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/metrics_log.h"
#include "tests/test_support.h"

namespace rt {
namespace {

nlohmann::json train_row(int64_t first, int64_t step) {
  return {{"kind", "train"}, {"first_step", first}, {"step", step}, {"loss", 0.5},
          {"cpu_percent", {50.0, 150.0}}, {"memory_mb", {100.0, 300.0}}};
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(MetricsLogTest, AResumeKeepsEveryRowAndMarksTheRepeatedOnesSuperseded) {
  testing::TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  {
    MetricsLog log;
    log.open(path, std::nullopt);
    log.write(train_row(1, 10));
    log.write(train_row(11, 20));
    log.write(train_row(21, 30));  // written after the checkpoint of step 20, then the job died
  }
  std::ofstream(path, std::ios::app) << R"({"kind":"train","first_st)";  // torn by the kill
  {
    MetricsLog log;
    log.open(path, int64_t{20});
    log.write(train_row(21, 30));
    log.write(train_row(31, 40));
  }
  const std::vector<nlohmann::json> rows = read_metrics(path);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_FALSE(rows[1].value("superseded", false));
  EXPECT_TRUE(rows[2].value("superseded", false));
  EXPECT_FALSE(rows[3].value("superseded", false));
  EXPECT_EQ(testing::train_rows_cover_each_step_once(path, 40), "");
  EXPECT_NE(testing::train_rows_cover_each_step_once(path, 50), "");

  const std::vector<std::string> csv = lines_of(dir.file("metrics.csv"));
  ASSERT_EQ(csv.size(), 6u);
  EXPECT_EQ(csv[0], metrics_csv_header());
  EXPECT_EQ(csv[3].rfind("train,", 0), 0u) << csv[3];
  EXPECT_EQ(csv[3].substr(csv[3].size() - 5), ",true") << csv[3];
  // Per-rank lists: CPU as the mean, memory as the maximum.
  EXPECT_NE(csv[1].find(",100,300,"), std::string::npos) << csv[1];
}

TEST(MetricsLogTest, ANewRunKeepsTheEarlierRowsAsPrevious) {
  testing::TempDir dir;
  const std::string path = dir.file("m.jsonl");
  {
    MetricsLog log;
    log.open(path, std::nullopt);
    log.write(train_row(1, 10));
  }
  MetricsLog log;
  log.open(path, std::nullopt);
  log.write(train_row(1, 5));
  EXPECT_EQ(read_metrics(path + ".previous").size(), 1u);
  ASSERT_EQ(read_metrics(path).size(), 1u);
  EXPECT_EQ(read_metrics(path)[0].value("step", 0), 5);
  EXPECT_EQ(log.csv_path(), dir.file("m.csv"));
}

TEST(MetricsLogTest, ALineThatIsNotJsonInTheMiddleIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  std::ofstream(path) << "{\"step\":1}\nnot json\n{\"step\":2}\n";
  const std::string message = testing::error_message([&] { read_metrics(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

}  // namespace
}  // namespace rt
