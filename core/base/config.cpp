#include "core/base/config.h"

#include <cstdlib>
#include <sstream>

#include "core/base/check.h"

namespace rt {

namespace {

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(key);
  while (std::getline(in, part, '.')) parts.push_back(part);
  return parts;
}

void collect_leaf_keys(const toml::table& table, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [name, node] : table) {
    std::string key = prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const toml::table* child = node.as_table()) {
      collect_leaf_keys(*child, key, out);
    } else {
      out.push_back(key);
    }
  }
}

std::string describe(const toml::node& node) {
  std::ostringstream text;
  switch (node.type()) {
    case toml::node_type::string: text << "string \"" << node.as_string()->get() << "\""; break;
    case toml::node_type::integer: text << "integer " << node.as_integer()->get(); break;
    case toml::node_type::floating_point: text << "number " << node.as_floating_point()->get(); break;
    case toml::node_type::boolean: text << "boolean " << (node.as_boolean()->get() ? "true" : "false"); break;
    case toml::node_type::array: text << "array"; break;
    case toml::node_type::table: text << "table"; break;
    default: text << "value"; break;
  }
  return text.str();
}

}  // namespace

Config Config::load_file(const std::string& path, const std::vector<std::string>& overrides) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    if (where.line == 0) RT_FAIL("config file {}: {}", path, error.description());
    RT_FAIL("config file {} line {}: {}", path, where.line, error.description());
  }
  Config config(std::move(table), path);
  for (const std::string& assignment : overrides) config.apply_override(assignment);
  return config;
}

Config Config::load_string(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    RT_FAIL("config {} line {}: {}", source, error.source().begin.line, error.description());
  }
  Config config(std::move(table), source);
  for (const std::string& assignment : overrides) config.apply_override(assignment);
  return config;
}

void Config::apply_override(const std::string& assignment) {
  size_t equals = assignment.find('=');
  RT_CHECK(equals != std::string::npos && equals > 0,
           "--set {}: expected section.key=value", assignment);
  std::string key = assignment.substr(0, equals);
  std::string value_text = assignment.substr(equals + 1);
  std::vector<std::string> parts = split_key(key);
  for (const std::string& part : parts) {
    RT_CHECK(!part.empty(), "--set {}: '{}' is not a key of the form section.key", assignment, key);
  }

  // A value that parses as TOML keeps its type (3, 0.1, true, [512, 256], "text"); anything
  // else (an unquoted path, say) is taken as a string.
  toml::table parsed;
  bool is_toml = true;
  try {
    parsed = toml::parse("value = " + value_text);
  } catch (const toml::parse_error&) {
    is_toml = false;
  }

  toml::table* table = &table_;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* child = table->get(parts[i]);
    if (!child) {
      table->insert(parts[i], toml::table{});
      child = table->get(parts[i]);
    }
    RT_CHECK(child->is_table(), "--set {}: '{}' is not a section", assignment, parts[i]);
    table = child->as_table();
  }
  if (is_toml) {
    table->insert_or_assign(parts.back(), std::move(*parsed.get("value")));
  } else {
    table->insert_or_assign(parts.back(), value_text);
  }
  overridden_[key] = assignment;
}

const toml::node* Config::find(const std::string& key) {
  known_keys_.insert(key);
  toml::node_view<toml::node> view = table_.at_path(key);
  return view.node();
}

std::string Config::origin(const std::string& key) const {
  auto it = overridden_.find(key);
  return it != overridden_.end() ? "--set " + it->second : source_;
}

void Config::fail(const std::string& key, const std::string& what) const {
  throw Error(fmt::format("config error in {}: {} {}", origin(key), key, what));
}

int64_t Config::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const toml::node* node = find(key);
  if (!node) return fallback;
  if (!node->is_integer()) fail(key, "must be an integer, not " + describe(*node));
  int64_t value = node->as_integer()->get();
  if (value < min || value > max) fail(key, fmt::format("= {} is out of range [{}, {}]", value, min, max));
  return value;
}

double Config::get_double(const std::string& key, double fallback, double min, double max) {
  const toml::node* node = find(key);
  if (!node) return fallback;
  if (!node->is_number()) fail(key, "must be a number, not " + describe(*node));
  double value = node->is_integer() ? static_cast<double>(node->as_integer()->get())
                                    : node->as_floating_point()->get();
  if (!(value >= min && value <= max)) fail(key, fmt::format("= {} is out of range [{}, {}]", value, min, max));
  return value;
}

bool Config::get_bool(const std::string& key, bool fallback) {
  const toml::node* node = find(key);
  if (!node) return fallback;
  if (!node->is_boolean()) fail(key, "must be true or false, not " + describe(*node));
  return node->as_boolean()->get();
}

std::string Config::get_string(const std::string& key, const std::string& fallback,
                               const std::vector<std::string>& choices) {
  const toml::node* node = find(key);
  if (!node) return fallback;
  if (!node->is_string()) fail(key, "must be a string, not " + describe(*node));
  std::string value = node->as_string()->get();
  if (!choices.empty()) {
    bool allowed = false;
    for (const std::string& choice : choices) allowed = allowed || choice == value;
    if (!allowed) fail(key, fmt::format("= \"{}\" is not one of: {}", value, fmt::join(choices, ", ")));
  }
  return value;
}

std::string Config::get_path(const std::string& key, const std::string& fallback) {
  std::string value = get_string(key, fallback);
  try {
    return expand_environment(value, key);
  } catch (const Error& error) {
    fail(key, error.what());
  }
}

std::vector<int64_t> Config::get_int_list(const std::string& key, const std::vector<int64_t>& fallback,
                                          int64_t min, int64_t max) {
  const toml::node* node = find(key);
  if (!node) return fallback;
  const toml::array* array = node->as_array();
  if (!array) fail(key, "must be an array of integers, not " + describe(*node));
  std::vector<int64_t> values;
  for (const toml::node& element : *array) {
    if (!element.is_integer()) fail(key, "must be an array of integers, but holds a " + describe(element));
    int64_t value = element.as_integer()->get();
    if (value < min || value > max) {
      fail(key, fmt::format("holds {}, out of range [{}, {}]", value, min, max));
    }
    values.push_back(value);
  }
  return values;
}

template <typename Predicate>
void Config::reject_unknown(Predicate included) const {
  std::vector<std::string> keys;
  collect_leaf_keys(table_, "", keys);
  std::vector<std::string> unknown;
  for (const std::string& key : keys) {
    if (!known_keys_.count(key) && included(key)) unknown.push_back(key);
  }
  if (unknown.empty()) return;
  fail(unknown.front(), unknown.size() == 1
                            ? "is not a known key"
                            : fmt::format("is not a known key (nor are: {})",
                                          fmt::join(unknown.begin() + 1, unknown.end(), ", ")));
}

void Config::reject_unknown_keys() const {
  reject_unknown([this](const std::string& key) {
    for (const std::string& prefix : later_prefixes_) {
      if (key.compare(0, prefix.size(), prefix) == 0) return false;
    }
    return true;
  });
}

void Config::reject_unknown_keys_under(const std::string& prefix) const {
  reject_unknown([&prefix](const std::string& key) { return key.compare(0, prefix.size(), prefix) == 0; });
}

std::string Config::to_toml() const {
  std::ostringstream text;
  text << table_;
  return text.str();
}

std::string expand_environment(const std::string& text, const std::string& what) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t start = text.find("${", at);
    if (start == std::string::npos) {
      out += text.substr(at);
      break;
    }
    size_t end = text.find('}', start + 2);
    RT_CHECK(end != std::string::npos, "unterminated ${{ in \"{}\" ({})", text, what);
    std::string name = text.substr(start + 2, end - start - 2);
    const char* value = std::getenv(name.c_str());
    RT_CHECK(value != nullptr, "environment variable {} is not set (used in \"{}\")", name, text);
    out += text.substr(at, start - at);
    out += value;
    at = end + 1;
  }
  return out;
}

namespace {
// Every leaf of a table as "section.key" -> its value written as TOML.
void flatten(const toml::table& table, const std::string& prefix, std::map<std::string, std::string>& out) {
  for (const auto& [key, node] : table) {
    const std::string name = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const toml::table* inner = node.as_table()) {
      flatten(*inner, name, out);
      continue;
    }
    if (const auto* number = node.as_floating_point()) {
      out[name] = fmt::format("{}", number->get());  // the shortest text that reads back the same
      continue;
    }
    std::ostringstream text;
    node.visit([&](const auto& value) { text << toml::toml_formatter(value); });
    out[name] = text.str();
  }
}

std::map<std::string, std::string> flattened(const std::string& text) {
  std::map<std::string, std::string> out;
  try {
    flatten(toml::parse(text), "", out);
  } catch (const toml::parse_error&) {
  }
  return out;
}
}  // namespace

std::vector<std::string> config_differences(const std::string& before, const std::string& after) {
  const std::map<std::string, std::string> a = flattened(before), b = flattened(after);
  std::set<std::string> keys;
  for (const auto& entry : a) keys.insert(entry.first);
  for (const auto& entry : b) keys.insert(entry.first);
  std::vector<std::string> lines;
  for (const std::string& key : keys) {
    auto x = a.find(key), y = b.find(key);
    const std::string from = x == a.end() ? "(not set)" : x->second, to = y == b.end() ? "(not set)" : y->second;
    if (from != to) lines.push_back(fmt::format("{}: {} -> {}", key, from, to));
  }
  return lines;
}

}  // namespace rt
