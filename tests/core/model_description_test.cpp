// A checkpoint's description of its model: written, read back and rebuilt; and every way it can
// be missing or wrong refused with a message that names the checkpoint and the key.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/model_description.h"
#include "tests/test_support.h"

namespace rt {
namespace {

ModelDescription mlp() {
  ModelDescription d;
  d.kind = "mlp";
  d.input = {{28, 28}, DType::kUInt8, 1.0 / 255};
  d.classes = 10;
  d.class_names = {"t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"};
  d.hidden = {64, 32};
  d.mlp = MlpOptions{"gelu", true, 0.1f};
  d.config = "[model]\nhidden = [64, 32]\n";
  return d;
}

TEST(ModelDescription, AnMlpsDescriptionReadsBackAndRebuildsTheSameModel) {
  const ModelDescription written = mlp();
  const ModelDescription read = parse_model_description(model_description_json(written), "ck/step-1");
  EXPECT_EQ(read.kind, "mlp");
  EXPECT_EQ(read.input.shape, (std::vector<int64_t>{28, 28}));
  EXPECT_EQ(read.input.dtype, DType::kUInt8);
  EXPECT_EQ(read.input.scale, 1.0 / 255);
  EXPECT_EQ(read.classes, 10);
  EXPECT_EQ(read.class_names, written.class_names);
  EXPECT_EQ(read.class_name(9), "boot");
  EXPECT_EQ(read.hidden, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(read.mlp.activation, "gelu");
  EXPECT_TRUE(read.mlp.layer_norm);
  EXPECT_FLOAT_EQ(read.mlp.dropout, 0.1f);
  EXPECT_EQ(read.config, written.config);
  EXPECT_EQ(read.ringtrain_version, ringtrain_version());
  std::unique_ptr<Model> rebuilt = build_described_model(read);
  std::unique_ptr<Model> original = build_mlp(784, {64, 32}, 10, Device::kCpu, written.mlp);
  EXPECT_EQ(rebuilt->summary(), original->summary());
  EXPECT_EQ(rebuilt->parameters().size(), original->parameters().size());
}

TEST(ModelDescription, ACnnAndAGptReadBack) {
  ModelDescription cnn = mlp();
  cnn.kind = "cnn";
  cnn.class_names.clear();
  cnn.channels = {8, 16};
  cnn.hidden = {32};
  const ModelDescription read_cnn = parse_model_description(model_description_json(cnn), "ck");
  EXPECT_EQ(read_cnn.channels, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(read_cnn.class_name(3), "3");
  EXPECT_EQ(build_described_model(read_cnn)->summary(), build_cnn({28, 28}, {8, 16}, {32}, 10)->summary());

  ModelDescription gpt;
  gpt.kind = "gpt";
  gpt.gpt.vocab = 256;
  gpt.gpt.context = 32;
  gpt.gpt.layers = 2;
  gpt.gpt.heads = 2;
  gpt.gpt.width = 16;
  gpt.input = {{33}, DType::kUInt8, 1.0};
  gpt.classes = 256;
  const ModelDescription read_gpt = parse_model_description(model_description_json(gpt), "ck");
  EXPECT_EQ(read_gpt.gpt.context, 32);
  EXPECT_EQ(read_gpt.gpt.layers, 2);
  EXPECT_EQ(read_gpt.input.shape, (std::vector<int64_t>{33}));
  // A gpt's description from before inputs were described: its input follows from its context.
  const ModelDescription older = parse_model_description(gpt_description(gpt.gpt), "ck");
  EXPECT_EQ(older.input.shape, (std::vector<int64_t>{33}));
  EXPECT_EQ(older.classes, 256);
}

TEST(ModelDescription, MissingOrWrongDescriptionsAreRefusedNamingTheCheckpointAndKey) {
  std::string text = testing::error_message([] { parse_model_description("", "runs/a/step-000000010"); });
  EXPECT_NE(text.find("runs/a/step-000000010 does not describe its model"), std::string::npos) << text;
  EXPECT_NE(text.find("--resume"), std::string::npos) << text;
  text = testing::error_message([] { parse_model_description("{\"kind\": ", "ck"); });
  EXPECT_NE(text.find("ck: the model's description is not JSON"), std::string::npos) << text;

  const nlohmann::json good = nlohmann::json::parse(model_description_json(mlp()));
  struct Case {
    std::string pointer;
    nlohmann::json value;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{{"/kind", "rnn", "kind 'rnn', which this program does not register"},
                                         {"/classes", -3, "'classes' is -3, not a positive integer"},
                                         {"/input/dtype", "int8", "dtype 'int8' is not uint8 or float32"},
                                         {"/input/scale", 0, "scale is 0, not a positive number"},
                                         {"/input/shape", nlohmann::json::array(), "'shape' is [], not a list of sizes"},
                                         {"/mlp/hidden", "64", "'hidden' is \"64\", not a list of sizes"},
                                         {"/mlp/activation", "tanh", "activation 'tanh' is not one of relu, gelu, silu"},
                                         {"/class_names", nlohmann::json::array({"a"}), "do not name its 10 classes"}}) {
    nlohmann::json broken = good;
    broken[nlohmann::json::json_pointer(c.pointer)] = c.value;
    text = testing::error_message([&] { parse_model_description(broken.dump(), "ck"); });
    EXPECT_NE(text.find(c.says), std::string::npos) << c.pointer << ": " << text;
  }
  nlohmann::json no_input = good;
  no_input.erase("input");
  text = testing::error_message([&] { parse_model_description(no_input.dump(), "ck"); });
  EXPECT_NE(text.find("ck: the model's description has no 'input'"), std::string::npos) << text;
}

}  // namespace
}  // namespace rt
