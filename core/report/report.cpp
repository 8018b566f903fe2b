#include "core/report/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/check.h"
#include "core/base/files.h"
#include "core/metrics_log.h"
#include "core/report/report_assets.h"

namespace rt {

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string read_whole(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

double number(const json& row, const char* key) {
  auto found = row.find(key);
  return found != row.end() && found->is_number() ? found->get<double>() : std::nan("");
}

// A per-rank list of a row as numbers (missing ranks: NaN).
std::vector<double> per_rank(const json& row, const char* key) {
  std::vector<double> values;
  auto found = row.find(key);
  if (found == row.end() || !found->is_array()) return values;
  for (const json& v : *found) values.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  return values;
}

double mean(const std::vector<double>& values) {
  double sum = 0;
  int n = 0;
  for (double v : values) {
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  }
  return n > 0 ? sum / n : std::nan("");
}

// NaN becomes null in the page's data.
json value(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// One train row as the page plots it.
struct Point {
  double step = 0, seconds = 0, loss = 0, accuracy = 0, lr = 0, rate = 0, step_ms = 0, step_ms_max = 0;
  double interval_seconds = 0;
  std::vector<double> data_wait, gradient_wait, cpu, memory;  // per rank; waits as a fraction of the interval
};

// Averages runs of `size` consecutive points into one (the last step and time of each run).
std::vector<Point> down_sample(const std::vector<Point>& points, size_t max_points) {
  if (points.size() <= max_points || max_points == 0) return points;
  const size_t size = (points.size() + max_points - 1) / max_points;
  std::vector<Point> out;
  for (size_t first = 0; first < points.size(); first += size) {
    const size_t end = std::min(points.size(), first + size);
    Point p = points[end - 1];
    const double n = static_cast<double>(end - first);
    p.loss = p.accuracy = p.lr = p.rate = p.step_ms = 0;
    p.step_ms_max = 0;
    auto average_lists = [&](std::vector<double> Point::*list) {
      std::vector<double> sum((p.*list).size(), 0.0);
      for (size_t i = first; i < end; ++i) {
        for (size_t r = 0; r < sum.size() && r < (points[i].*list).size(); ++r) sum[r] += (points[i].*list)[r] / n;
      }
      p.*list = sum;
    };
    for (size_t i = first; i < end; ++i) {
      p.loss += points[i].loss / n;
      p.accuracy += points[i].accuracy / n;
      p.lr += points[i].lr / n;
      p.rate += points[i].rate / n;
      p.step_ms += points[i].step_ms / n;
      p.step_ms_max = std::max(p.step_ms_max, points[i].step_ms_max);
    }
    average_lists(&Point::data_wait);
    average_lists(&Point::gradient_wait);
    average_lists(&Point::cpu);
    average_lists(&Point::memory);
    out.push_back(std::move(p));
  }
  return out;
}

struct Run {
  std::string name;
  std::string directory;
  std::string config;
  json machine = json::object();
  std::vector<Point> points;                 // train rows, not superseded, by step
  std::vector<json> evaluations;             // eval rows, not superseded, by step
  struct CheckpointEntry {
    std::string name;
    uintmax_t bytes = 0;
    std::string evaluation;  // "test accuracy 86.04%, loss 0.3869", or ""
  };
  std::vector<CheckpointEntry> checkpoints;
  bool tokens = false;
};

Run read_run(const std::string& directory) {
  Run run;
  run.directory = directory;
  run.name = fs::path(directory).lexically_normal().filename().string();
  if (run.name.empty()) run.name = fs::path(directory).lexically_normal().parent_path().filename().string();
  const fs::path metrics = fs::path(directory) / "metrics.jsonl";
  RT_CHECK(fs::exists(metrics), "{} has no metrics.jsonl: not a run directory (log.dir) of ringtrain train", directory);
  run.config = read_whole(fs::path(directory) / "config.toml");
  const std::string machine = read_whole(fs::path(directory) / "run.json");
  if (!machine.empty()) run.machine = json::parse(machine, nullptr, false);
  if (run.machine.is_discarded()) run.machine = json::object();

  std::vector<json> rows = read_metrics(metrics.string());
  double origin = std::nan("");
  for (const json& row : rows) {
    if (row.value("superseded", false)) continue;
    const std::string kind = row.value("kind", "");
    if (kind == "train") {
      Point p;
      p.step = number(row, "step");
      const double steps = p.step - number(row, "first_step") + 1;
      p.step_ms = number(row, "step_ms");
      p.step_ms_max = number(row, "step_ms_max");
      p.interval_seconds = p.step_ms * steps / 1e3;
      if (std::isnan(origin)) origin = number(row, "time") - p.interval_seconds;
      p.seconds = number(row, "time") - origin;
      p.loss = number(row, "loss");
      p.accuracy = number(row, "accuracy");
      p.lr = number(row, "lr");
      run.tokens = run.tokens || row.contains("tokens_per_second");
      p.rate = number(row, run.tokens ? "tokens_per_second" : "samples_per_second");
      p.data_wait = per_rank(row, "data_wait_seconds");
      p.gradient_wait = per_rank(row, "gradient_wait_seconds");
      for (double& v : p.data_wait) v = p.interval_seconds > 0 ? std::min(1.0, v / p.interval_seconds) : 0.0;
      for (double& v : p.gradient_wait) v = p.interval_seconds > 0 ? std::min(1.0, v / p.interval_seconds) : 0.0;
      p.cpu = per_rank(row, "cpu_percent");
      p.memory = per_rank(row, "memory_mb");
      run.points.push_back(std::move(p));
    } else if (kind == "eval") {
      json e = row;
      if (std::isnan(origin)) origin = number(row, "time");
      e["seconds"] = number(row, "time") - origin;
      run.evaluations.push_back(std::move(e));
    }
  }
  std::stable_sort(run.points.begin(), run.points.end(), [](const Point& a, const Point& b) { return a.step < b.step; });
  std::stable_sort(run.evaluations.begin(), run.evaluations.end(),
                   [](const json& a, const json& b) { return a.value("step", 0.0) < b.value("step", 0.0); });

  std::error_code error;
  const fs::path checkpoints = fs::path(directory) / "checkpoints";
  if (fs::is_directory(checkpoints, error)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(checkpoints, error)) {
      if (!entry.is_directory()) continue;
      uintmax_t bytes = 0;
      for (const fs::directory_entry& file : fs::directory_iterator(entry.path(), error)) {
        if (file.is_regular_file()) bytes += file.file_size(error);
      }
      // The evaluation its state records, if any (checkpoint.keep_best keeps the best of them).
      std::string evaluation;
      const json state = json::parse(read_whole(entry.path() / "state.json"), nullptr, false);
      if (state.is_object() && state.contains("evaluation") && state["evaluation"].is_object()) {
        const json& e = state["evaluation"];
        const json model = json::parse(state.value("model", std::string("{}")), nullptr, false);
        evaluation = model.is_object() && model.value("task", std::string()) == "regression"
                         ? fmt::format("test mse {:.4g}", number(e, "loss"))
                         : fmt::format("test accuracy {:.2f}%, loss {:.4f}", 100 * number(e, "accuracy"),
                                       number(e, "loss"));
      }
      run.checkpoints.push_back({entry.path().filename().string(), bytes, evaluation});
    }
    std::sort(run.checkpoints.begin(), run.checkpoints.end(),
              [](const Run::CheckpointEntry& a, const Run::CheckpointEntry& b) { return a.name < b.name; });
  }
  return run;
}

// Where the time went, in words: shares of the step time, and what would help.
std::string where_the_time_went(const Run& run) {
  if (run.points.empty()) return "No training steps were recorded yet.";
  double total = 0, data = 0, gradient = 0;
  for (const Point& p : run.points) {
    total += p.interval_seconds;
    data += mean(p.data_wait) * p.interval_seconds;
    gradient += mean(p.gradient_wait) * p.interval_seconds;
  }
  if (total <= 0) return "No step time was recorded.";
  const double data_share = data / total, gradient_share = gradient / total;
  const double compute_share = std::max(0.0, 1.0 - data_share - gradient_share);
  std::string text = fmt::format(
      "Of {:.1f} s of steps, the ranks spent {:.0f}% waiting for data, {:.0f}% waiting for the gradient sums "
      "and {:.0f}% computing. ",
      total, 100 * data_share, 100 * gradient_share, 100 * compute_share);
  if (data_share >= 0.15 && data_share >= gradient_share) {
    text += "The loader limits this run: read further ahead (data.prefetch_shards, data.prefetch_mb), keep the "
            "shards on faster storage or in larger shards; more ranks reading the same storage would not help.";
  } else if (gradient_share >= 0.25) {
    text += "The gradient sums limit this run (the network, or ranks sharing cores): larger buckets "
            "(comm.bucket_mb), a 16-bit wire (comm.wire = \"bf16\"), comm.hierarchical across hosts, or fewer, "
            "larger machines (scale up rather than out) would help.";
  } else {
    text += "The model's math limits this run, so it scales: more ranks or hosts (scale out), or a GPU "
            "(runtime.device = \"cuda\"), would train it faster.";
  }
  return text;
}

json run_data(const Run& run, const ReportOptions& options) {
  const std::vector<Point> points = down_sample(run.points, options.max_points);
  json train = {{"step", json::array()},    {"seconds", json::array()},     {"loss", json::array()},
                {"accuracy", json::array()}, {"lr", json::array()},          {"rate", json::array()},
                {"step_ms", json::array()},  {"step_ms_max", json::array()}, {"data_wait", json::array()},
                {"gradient_wait", json::array()}, {"cpu_percent", json::array()}, {"memory_mb", json::array()}};
  auto list = [](const std::vector<double>& values) {
    json out = json::array();
    for (double v : values) out.push_back(value(v));
    return out;
  };
  for (const Point& p : points) {
    train["step"].push_back(p.step);
    train["seconds"].push_back(value(p.seconds));
    train["loss"].push_back(value(p.loss));
    train["accuracy"].push_back(value(p.accuracy));
    train["lr"].push_back(value(p.lr));
    train["rate"].push_back(value(p.rate));
    train["step_ms"].push_back(value(p.step_ms));
    train["step_ms_max"].push_back(value(p.step_ms_max));
    train["data_wait"].push_back(list(p.data_wait));
    train["gradient_wait"].push_back(list(p.gradient_wait));
    train["cpu_percent"].push_back(list(p.cpu));
    train["memory_mb"].push_back(list(p.memory));
  }
  json evaluation = {{"step", json::array()}, {"seconds", json::array()}, {"loss", json::array()},
                     {"accuracy", json::array()}};
  for (const json& e : run.evaluations) {
    evaluation["step"].push_back(value(number(e, "step")));
    evaluation["seconds"].push_back(value(number(e, "seconds")));
    evaluation["loss"].push_back(value(number(e, "loss")));
    evaluation["accuracy"].push_back(value(number(e, "accuracy")));
  }
  // The distribution of the rows' mean step times (all rows, not down-sampled), in 30 bins.
  json histogram = {{"ms", json::array()}, {"rows", json::array()}};
  double low = INFINITY, high = -INFINITY;
  for (const Point& p : run.points) {
    if (std::isfinite(p.step_ms)) low = std::min(low, p.step_ms), high = std::max(high, p.step_ms);
  }
  if (std::isfinite(low)) {
    constexpr int kBins = 30;
    const double width = high > low ? (high - low) / kBins : 1.0;
    std::vector<int64_t> counts(kBins, 0);
    for (const Point& p : run.points) {
      if (std::isfinite(p.step_ms)) ++counts[std::min(kBins - 1, static_cast<int>((p.step_ms - low) / width))];
    }
    for (int b = 0; b < kBins; ++b) {
      histogram["ms"].push_back(low + (b + 0.5) * width);
      histogram["rows"].push_back(counts[static_cast<size_t>(b)]);
    }
  }
  return {{"name", run.name}, {"tokens", run.tokens}, {"train", train}, {"eval", evaluation},
          {"step_histogram", histogram}};
}

std::string distinct_hosts(const Run& run) {
  if (!run.machine.contains("hosts") || !run.machine["hosts"].is_array()) return "-";
  std::set<std::string> hosts;
  for (const json& host : run.machine["hosts"]) hosts.insert(host.dump());
  return fmt::format("{}", hosts.size());
}

std::string summary_rows(const Run& run) {
  std::vector<double> rates;
  for (const Point& p : run.points) {
    if (std::isfinite(p.rate)) rates.push_back(p.rate);
  }
  std::sort(rates.begin(), rates.end());
  const double median_rate = rates.empty() ? std::nan("") : rates[rates.size() / 2];
  // The best evaluation: by accuracy, or a regression's (its rows hold "r2") by R^2.
  const json* best = nullptr;
  const bool regression = !run.evaluations.empty() && run.evaluations.front().contains("r2");
  const char* measure = regression ? "r2" : "accuracy";
  for (const json& e : run.evaluations) {
    if (!best || number(e, measure) > number(*best, measure)) best = &e;
  }
  auto figure = [](double v, const char* format) {
    return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : std::string("-");
  };
  const Point* last = run.points.empty() ? nullptr : &run.points.back();
  return fmt::format(
      "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
      escape_html(run.name), last ? fmt::format("{:.0f}", last->step) : "-",
      last ? figure(last->seconds, "{:.1f}") : "-", last ? figure(last->loss, "{:.4f}") : "-",
      best ? (regression ? "R^2 " + figure(number(*best, "r2"), "{:.4f}")
                         : figure(100 * number(*best, "accuracy"), "{:.2f}%")) +
                 fmt::format(" (step {:.0f})", number(*best, "step"))
           : std::string("-"),
      figure(median_rate, "{:.0f}") + (run.tokens ? " tokens/s" : " samples/s"),
      escape_html(fmt::format("{}", run.machine.value("ranks", 0))),
      escape_html(distinct_hosts(run)),
      run.checkpoints.size());
}

std::string details(const Run& run) {
  std::string hosts;
  if (run.machine.contains("hosts")) {
    std::map<std::string, int> ranks_per_host;
    for (const json& host : run.machine["hosts"]) ++ranks_per_host[host.is_string() ? host.get<std::string>() : "?"];
    for (const auto& [host, ranks] : ranks_per_host) {
      hosts += fmt::format("{}{} ({} rank{})", hosts.empty() ? "" : ", ", host, ranks, ranks == 1 ? "" : "s");
    }
  }
  std::string checkpoints;
  for (const Run::CheckpointEntry& checkpoint : run.checkpoints) {
    checkpoints += fmt::format("<tr><td>{}</td><td>{:.1f} MB</td><td>{}</td></tr>", escape_html(checkpoint.name),
                               static_cast<double>(checkpoint.bytes) / 1e6, escape_html(checkpoint.evaluation));
  }
  return fmt::format(
      "<section><h2>{}</h2><h3>Where the time went</h3><p>{}</p><p>ringtrain {}, {} rank(s) on {}, device {}; directory {}</p>"
      "<details><summary>Configuration</summary><pre>{}</pre></details>"
      "<details><summary>Checkpoints ({})</summary><table>{}</table></details></section>\n",
      escape_html(run.name), escape_html(where_the_time_went(run)), escape_html(run.machine.value("ringtrain", "?")),
      run.machine.value("ranks", 0), escape_html(hosts.empty() ? "?" : hosts),
      escape_html(run.machine.value("device", "?")), escape_html(run.directory), escape_html(run.config),
      run.checkpoints.size(), checkpoints);
}

const char* const kStyle = R"(
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
#charts { display: flex; flex-wrap: wrap; gap: 1em; }
.chart { border: 1px solid #eee; padding: 0.3em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
#report-status { color: #666; font-size: 0.9em; }
)";
}  // namespace

void write_report(const std::vector<std::string>& run_directories, const std::string& output,
                  const ReportOptions& options) {
  RT_CHECK(!run_directories.empty(), "a report needs at least one run directory");
  std::vector<Run> runs;
  for (const std::string& directory : run_directories) runs.push_back(read_run(directory));

  json data = {{"runs", json::array()}};
  std::string summary, sections;
  for (const Run& run : runs) {
    data["runs"].push_back(run_data(run, options));
    summary += summary_rows(run);
    sections += details(run);
  }
  // Inside <script>, "</" would end the element: JSON allows "<\/" for it.
  std::string embedded = data.dump();
  for (size_t at = embedded.find("</"); at != std::string::npos; at = embedded.find("</", at + 3)) {
    embedded.replace(at, 2, "<\\/");
  }
  std::string page = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ringtrain report</title>\n"
      "<style>{}</style><style>{}</style></head><body>\n"
      "<h1>ringtrain report</h1><p id=\"report-status\">drawing</p>\n"
      "<table><tr><th>run</th><th>steps</th><th>seconds</th><th>train loss</th><th>best evaluation accuracy</th>"
      "<th>median rate</th><th>ranks</th><th>hosts</th><th>checkpoints</th></tr>\n{}</table>\n"
      "<div id=\"charts\"></div>\n{}"
      "<details><summary>uPlot licence</summary><pre>{}</pre></details>\n"
      "<script id=\"report-data\" type=\"application/json\">{}</script>\n<script>{}</script>\n<script>{}</script>\n"
      "</body></html>\n",
      report_assets::kUplotStyle, kStyle, summary, sections, escape_html(report_assets::kUplotLicense), embedded,
      report_assets::kUplotScript, report_assets::kPageScript);

  replace_file(output, page);
}

}  // namespace rt
