// `ringtrain report` in a real browser: headless Chromium loads the page of a 2-rank run and of a
// synthetic 100,000-step run, with no console message; every chart drew (the page counts each
// canvas's painted pixels and says so), the page rendered in a screenshot (its pixels decoded
// here), within 2 s and under 2 MB. Also: rank 0 writes the run directory's report while training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "core/base/random.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::Outcome;
using testing::run;

const std::string kBinary = RINGTRAIN_BINARY;
const std::string kMpi2 = std::string(RINGTRAIN_MPIEXEC) + " -n 2 --oversubscribe --timeout 60 ";
const std::string kChromium = RINGTRAIN_CHROMIUM;

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What headless Chromium made of a page: its DOM after the page's scripts ran, the console
// messages it printed, and a screenshot.
struct Browsed {
  std::string dom;
  std::string console;
  std::string screenshot;  // PNG path
};

Browsed browse(const std::string& page, const testing::TempDir& dir) {
  // A profile of its own (tests may run side by side); none of the browser's own traffic (updates,
  // metrics, safe browsing: nothing leaves the machine); bounded so a hang fails.
  const std::string chromium = "timeout 60 " + kChromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars "
                               "--disable-background-networking --disable-component-update --disable-sync "
                               "--disable-domain-reliability --disable-client-side-phishing-detection --no-pings "
                               "--user-data-dir=" + dir.file("profile") + " --virtual-time-budget=10000 ";
  Browsed b;
  Outcome dom = run(chromium + "--enable-logging=stderr --v=0 --dump-dom file://" + page + " 2>" + dir.file("console.txt"));
  EXPECT_EQ(dom.exit_code, 0) << dom.output;
  b.dom = dom.output;
  b.console = read_whole(dir.file("console.txt"));
  b.screenshot = dir.file("shot.png");
  Outcome shot = run(chromium + "--window-size=1300,1400 --screenshot=" + b.screenshot + " file://" + page);
  EXPECT_EQ(shot.exit_code, 0) << shot.output;
  return b;
}

// The page's verdict: charts drawn, charts made, milliseconds from navigation to drawn.
struct Verdict {
  int drawn = -1, charts = -1, milliseconds = -1;
};
Verdict verdict_of(const std::string& dom) {
  std::smatch match;
  Verdict v;
  if (std::regex_search(dom, match, std::regex(R"(id="report-status">drawn (\d+) of (\d+) charts in (\d+) ms)"))) {
    v.drawn = std::stoi(match[1]);
    v.charts = std::stoi(match[2]);
    v.milliseconds = std::stoi(match[3]);
  }
  return v;
}

// The share of a PNG screenshot's pixels that are not white: 8-bit RGB or RGBA, not interlaced
// (what Chromium writes). -1 when the file is not such a PNG.
double painted_share(const std::string& path) {
  const std::string png = read_whole(path);
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return -1;
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::string compressed;
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t length = be32(at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      width = be32(at + 8);
      height = be32(at + 12);
      const int depth = uint8_t(png[at + 16]), color = uint8_t(png[at + 17]), interlace = uint8_t(png[at + 20]);
      if (depth != 8 || interlace != 0 || (color != 2 && color != 6)) return -1;
      channels = color == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed += png.substr(at + 8, length);
    }
    at += 12 + length;
  }
  const size_t stride = size_t(width) * channels;
  std::vector<uint8_t> raw((stride + 1) * height);
  uLongf raw_size = raw.size();
  if (channels == 0 || uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()),
                                  compressed.size()) != Z_OK || raw_size != raw.size()) {
    return -1;
  }
  // Undo each row's filter (PNG: none, sub, up, average, Paeth).
  std::vector<uint8_t> pixels(stride * height), zero(stride, 0);
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &pixels[y * stride];
    const uint8_t* up = y > 0 ? &pixels[(y - 1) * stride] : zero.data();
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(channels) ? out[x - channels] : 0, b = up[x],
                c = x >= size_t(channels) ? up[x - channels] : 0;
      int predicted = 0;
      if (filter == 1) predicted = a;
      if (filter == 2) predicted = b;
      if (filter == 3) predicted = (a + b) / 2;
      if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = uint8_t(in[x] + predicted);
    }
  }
  size_t painted = 0;
  for (size_t i = 0; i < pixels.size(); i += channels) {
    if (pixels[i] < 250 || pixels[i + 1] < 250 || pixels[i + 2] < 250) ++painted;
  }
  return double(painted) / (double(width) * height);
}

void expect_a_good_page(const Browsed& page, int charts) {
  const Verdict v = verdict_of(page.dom);
  EXPECT_EQ(v.charts, charts) << page.dom.substr(0, 2000);
  EXPECT_EQ(v.drawn, charts) << "a chart stayed blank";
  EXPECT_EQ(page.console.find(":CONSOLE"), std::string::npos) << "console messages:\n" << page.console;
  const double painted = painted_share(page.screenshot);
  EXPECT_GT(painted, 0.02) << "the screenshot is blank (or not an 8-bit PNG): " << page.screenshot;
}

TEST(ReportTest, ATwoRankRunsReportDrawsEveryChartInABrowser) {
  testing::TempDir dir;
  testing::write_cluster_shards(dir.file("train"), 800, 2, 8, 3, 5, 1);
  testing::write_cluster_shards(dir.file("test"), 200, 1, 8, 3, 5, 2);
  std::ofstream(dir.file("job.toml")) << "[model]\nhidden = [16]\n[train]\nepochs = 3\nglobal_batch = 16\n"
                                      << "eval_every = 20\n[data]\ntrain_dir = \"" << dir.file("train")
                                      << "\"\ntest_dir = \"" << dir.file("test") << "\"\n[runtime]\nthreads = 1\n"
                                      << "[log]\nevery = 5\ndir = \"" << dir.file("run") << "\"\n";
  Outcome trained = run(kMpi2 + kBinary + " train " + dir.file("job.toml"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  // Rank 0 wrote the run's report at the end of training; `report` writes it again.
  ASSERT_TRUE(std::filesystem::exists(dir.file("run/report.html")));
  std::filesystem::remove(dir.file("run/report.html"));
  Outcome reported = run(kBinary + " report " + dir.file("run"));
  ASSERT_EQ(reported.exit_code, 0) << reported.output;
  const std::string page = read_whole(dir.file("run/report.html"));
  for (const char* needle : {"ringtrain report", "Where the time went", "% waiting for data", "2 rank(s) on", "hidden = [ 16 ]", "step-000000150"}) {
    EXPECT_NE(page.find(needle), std::string::npos) << needle;
  }
  EXPECT_EQ(page.find("http://"), std::string::npos) << "the page must not reach the network";
  EXPECT_EQ(page.find("https://cdn"), std::string::npos);
  expect_a_good_page(browse(dir.file("run/report.html"), dir), 11);

  // Two runs overlaid on one page.
  Outcome both = run(kBinary + " report " + dir.file("run") + " " + dir.file("run") + " --output " + dir.file("two.html"));
  ASSERT_EQ(both.exit_code, 0) << both.output;
  expect_a_good_page(browse(dir.file("two.html"), dir), 11);
}

// A 100,000-step run of 4 ranks with a row every step: the page stays under 2 MB and draws in
// under 2 s, its curves averaged down.
TEST(ReportTest, AHundredThousandStepRunRendersInUnderTwoSeconds) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("long"));
  std::ofstream(dir.file("long/config.toml")) << "[train]\nepochs = 10\n";
  std::ofstream(dir.file("long/run.json")) << R"({"ringtrain": "test", "ranks": 4, "hosts": ["a", "a", "b", "b"]})";
  {
    std::ofstream out(dir.file("long/metrics.jsonl"));
    Rng rng(7, 0);
    double time = 1.8e9;
    for (int64_t step = 1; step <= 100000; ++step) {
      const double noise = 0.01 * (rng.next_u64() % 100);
      time += 0.003 + noise * 0.001;
      nlohmann::json row = {{"kind", "train"}, {"time", time}, {"epoch", 1 + (step - 1) / 10000},
                            {"first_step", step}, {"step", step}, {"loss", 2.0 / std::sqrt(double(step)) + noise},
                            {"accuracy", 1.0 - 1.0 / std::sqrt(double(step))}, {"lr", 0.05},
                            {"samples_per_second", 40000 + 1000 * noise}, {"step_ms", 3 + noise},
                            {"step_ms_max", 3 + 2 * noise}, {"data_wait_seconds", {1e-5, 2e-5, 1e-5, 3e-5}},
                            {"gradient_wait_seconds", {1e-4, 2e-4, 1e-4, 3e-4}}, {"cpu_percent", {99, 98, 97, 99}},
                            {"memory_mb", {250, 251, 252, 250}}};
      out << row.dump() << '\n';
      if (step % 1000 == 0) {
        out << nlohmann::json{{"kind", "eval"}, {"time", time}, {"step", step}, {"loss", 1.0 / std::sqrt(double(step))},
                              {"accuracy", 0.9}}.dump()
            << '\n';
      }
    }
  }
  Outcome reported = run(kBinary + " report " + dir.file("long"));
  ASSERT_EQ(reported.exit_code, 0) << reported.output;
  const auto bytes = std::filesystem::file_size(dir.file("long/report.html"));
  EXPECT_LT(bytes, 2u << 20);
  const Browsed page = browse(dir.file("long/report.html"), dir);
  expect_a_good_page(page, 11);
  const Verdict v = verdict_of(page.dom);
  EXPECT_GE(v.milliseconds, 0);
  EXPECT_LT(v.milliseconds, 2000);
  std::printf("100,000-step report: %.0f kB, drawn in %d ms, %.1f%% of the screenshot painted\n", bytes / 1e3,
              v.milliseconds, 100 * painted_share(page.screenshot));
}

TEST(ReportTest, ADirectoryThatIsNoRunIsNamed) {
  testing::TempDir dir;
  Outcome outcome = run(kBinary + " report " + dir.path());
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.output.find(dir.path() + " has no metrics.jsonl"), std::string::npos) << outcome.output;
}

}  // namespace
}  // namespace rt
