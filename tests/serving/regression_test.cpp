// Regression end to end: a CSV table of a known linear function converted with --task regression,
// an mlp trained on it under mpirun (model.task = "regression"), then evaluate, predict and serve
// returning values; mismatched tasks refused with a message naming the shards.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/base/random.h"
#include "data/shard_index.h"
#include "tests/serving/server_process.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using nlohmann::json;
using testing::Outcome;
using testing::run;

const std::string kBinary = RINGTRAIN_BINARY;
const std::string kMpi2 = std::string(RINGTRAIN_MPIEXEC) + " -n 2 --oversubscribe --timeout 100 ";
const double kWeights[4] = {1.5, -2.0, 0.5, 3.0};
constexpr double kBias = 0.7;

double linear(const std::vector<double>& x) {
  double y = kBias;
  for (int i = 0; i < 4; ++i) y += kWeights[i] * x[static_cast<size_t>(i)];
  return y;
}

class RegressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(11);
    for (const std::string split : {"train", "test"}) {
      std::ofstream out(dir_.file(split + ".csv"));
      out << "x0,x1,x2,x3,y\n";
      for (int r = 0; r < (split == "train" ? 3000 : 500); ++r) {
        std::vector<double> x(4);
        for (double& v : x) v = rng.uniform(-1.0f, 1.0f);
        out << x[0] << "," << x[1] << "," << x[2] << "," << x[3] << "," << linear(x) << "\n";
        if (split == "test") test_rows_.push_back(x);
      }
    }
  }
  std::string config(const std::string& task, const std::string& train) {
    const std::string path = dir_.file(task + ".toml");
    std::ofstream(path) << "[model]\ntask = \"" << task << "\"\nhidden = [32]\n[train]\nepochs = 8\nglobal_batch = 32\n"
                        << "[optimizer]\nlr = 0.01\n[data]\ntrain_dir = \"" << train << "\"\ntest_dir = \""
                        << dir_.file("test") << "\"\n[runtime]\nthreads = 1\n[log]\ndir = \"" << dir_.file(task + "-run")
                        << "\"\n";
    return path;
  }
  testing::TempDir dir_;
  std::vector<std::vector<double>> test_rows_;
};

TEST_F(RegressionTest, AnMlpLearnsALinearFunctionAndEveryCommandReturnsValues) {
  for (const std::string split : {"train", "test"}) {
    Outcome converted = run(kMpi2 + kBinary + " shard --csv " + dir_.file(split + ".csv") +
                            " --label y --task regression --shard-mb 0.02 --output " + dir_.file(split));
    ASSERT_EQ(converted.exit_code, 0) << converted.output;
  }
  const ShardIndex index(dir_.file("train"));
  EXPECT_TRUE(index.layout().regression);
  EXPECT_EQ(index.layout().classes, 1);
  EXPECT_GT(index.shards().size(), 2u);

  Outcome trained = run(kMpi2 + kBinary + " train " + config("regression", dir_.file("train")) + " --set log.dir=" +
                        dir_.file("run"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(trained.output, match, std::regex("done: test mse ([0-9.e-]+), test R\\^2 ([0-9.]+)")))
      << trained.output;
  const double trained_r2 = std::stod(match[2]);
  EXPECT_GT(trained_r2, 0.99) << trained.output;
  // The metrics record the regression's figures, not an accuracy.
  const std::string metrics = testing::read_file(dir_.file("run/metrics.jsonl"));
  EXPECT_NE(metrics.find("\"test_r2\""), std::string::npos);
  EXPECT_EQ(metrics.find("accuracy"), std::string::npos);

  // The run's report shows the best R^2, not an accuracy.
  Outcome report = run(kBinary + " report " + dir_.file("run") + " --output " + dir_.file("report.html"));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(testing::read_file(dir_.file("report.html")).find("R^2 0.99"), std::string::npos);

  // evaluate: the same R^2 as training's last evaluation, alone and on two ranks.
  for (const std::string launcher : {std::string(), kMpi2}) {
    Outcome evaluated = run(launcher + kBinary + " evaluate " + dir_.file("run/checkpoints") + " --data " +
                            dir_.file("test") + " --json");
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
    const json result = json::parse(evaluated.output.substr(evaluated.output.find('{')));
    EXPECT_EQ(result["samples"], 500);
    EXPECT_NEAR(result["r2"].get<double>(), trained_r2, 1e-4);
    EXPECT_NEAR(result["rmse"].get<double>(), std::sqrt(result["mse"].get<double>()), 1e-12);
  }

  // predict: a value a row, near the function's.
  Outcome predicted = run(kMpi2 + kBinary + " predict " + dir_.file("run/checkpoints") + " --input " +
                          dir_.file("test") + " --output " + dir_.file("values.csv"));
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  std::ifstream values(dir_.file("values.csv"));
  std::string line;
  std::getline(values, line);
  EXPECT_EQ(line, "row,value");
  std::vector<double> predictions;
  while (std::getline(values, line)) predictions.push_back(std::stod(line.substr(line.find(',') + 1)));
  ASSERT_EQ(predictions.size(), test_rows_.size());
  double worst = 0;
  for (size_t r = 0; r < predictions.size(); ++r) worst = std::max(worst, std::abs(predictions[r] - linear(test_rows_[r])));
  EXPECT_LT(worst, 0.5);
  Outcome top_k = run(kBinary + " predict " + dir_.file("run/checkpoints") + " --input " + dir_.file("test") +
                      " --top-k 2 --output " + dir_.file("top.csv"));
  EXPECT_NE(top_k.exit_code, 0);
  EXPECT_NE(top_k.output.find("--top-k ranks classes"), std::string::npos) << top_k.output;

  // serve: both contracts answer with the values predict wrote.
  testing::ServerProcess server(dir_.file("run/checkpoints"), {}, dir_.file("serve.log"));
  ASSERT_GT(server.port(), 0) << server.output();
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(30, 0);
  const json rows = {test_rows_[0], test_rows_[1]};
  auto scored = client.Post("/score", json{{"data", rows}}.dump(), "application/json");
  ASSERT_TRUE(scored) << server.output();
  ASSERT_EQ(scored->status, 200) << scored->body;
  const json score = json::parse(scored->body);
  ASSERT_EQ(score["predictions"].size(), 2u);
  EXPECT_FALSE(score.contains("probabilities"));
  EXPECT_NEAR(score["predictions"][0].get<double>(), predictions[0], 1e-5);
  EXPECT_NEAR(score["predictions"][1].get<double>(), predictions[1], 1e-5);
  const json infer_body = {{"inputs", {{{"name", "input"}, {"shape", {2, 4}}, {"datatype", "FP32"},
                                        {"data", {test_rows_[0], test_rows_[1]}}}}}};
  auto inferred = client.Post("/v2/models/model/infer", infer_body.dump(), "application/json");
  ASSERT_TRUE(inferred);
  ASSERT_EQ(inferred->status, 200) << inferred->body;
  const json output = json::parse(inferred->body)["outputs"][0];
  EXPECT_EQ(output["name"], "predicted_value");
  EXPECT_NEAR(output["data"][1].get<double>(), predictions[1], 1e-5);
  auto metadata = client.Get("/v2/models/model");
  ASSERT_TRUE(metadata);
  EXPECT_EQ(json::parse(metadata->body)["outputs"][0]["name"], "predicted_value") << metadata->body;
  EXPECT_EQ(json::parse(metadata->body)["parameters"]["task"], "regression") << metadata->body;
}

TEST_F(RegressionTest, MismatchedTasksAreRefusedNamingTheShards) {
  ASSERT_EQ(run(kBinary + " shard --csv " + dir_.file("train.csv") + " --label y --task regression --output " +
                dir_.file("train")).exit_code, 0);
  ASSERT_EQ(run(kBinary + " shard --csv " + dir_.file("test.csv") + " --label y --task regression --output " +
                dir_.file("test")).exit_code, 0);
  Outcome classify = run(kBinary + " train " + config("classification", dir_.file("train")));
  EXPECT_NE(classify.exit_code, 0);
  EXPECT_NE(classify.output.find(dir_.file("train") + "/shard-00000.h5 holds regression targets: set model.task = "
                                                      "\"regression\""),
            std::string::npos)
      << classify.output;
  // Class ids (the targets' integer parts are not classes): a regression refuses them.
  {
    std::ofstream classes(dir_.file("classes.csv"));
    classes << "a,b\n";
    for (int r = 0; r < 64; ++r) classes << r * 0.25 << "," << r % 2 << "\n";
  }
  ASSERT_EQ(run(kBinary + " shard --csv " + dir_.file("classes.csv") + " --label b --output " + dir_.file("classes"))
                .exit_code,
            0);
  Outcome regress = run(kBinary + " train " + config("regression", dir_.file("classes")));
  EXPECT_NE(regress.exit_code, 0);
  EXPECT_NE(regress.output.find("holds class labels (convert with --task regression)"), std::string::npos)
      << regress.output;
  // A target that is not a number is named.
  std::ofstream(dir_.file("bad.csv")) << "a,y\n0.5,1.5\n0.25,high\n";
  Outcome bad = run(kBinary + " shard --csv " + dir_.file("bad.csv") + " --label y --task regression --output " +
                    dir_.file("bad"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find(dir_.file("bad.csv") + ", line 3, column 'y': 'high' is not a number"), std::string::npos)
      << bad.output;
}

}  // namespace
}  // namespace rt
