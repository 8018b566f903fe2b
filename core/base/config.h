// A validated configuration: a TOML file plus `--set section.key=value` overrides.
//
// Readers ask for each key with its type, default and allowed range; asking marks the key as
// known. After every component has read its keys, reject_unknown_keys() turns any key that
// nobody asked for (a typo, a key of a newer version) into an error. Every error names the key
// and where its value came from (the file, or the --set override).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "core/base/check.h"

namespace rt {

class Config {
 public:
  // Reads `path` (an error names the file and the line of a syntax error), then applies overrides.
  static Config load_file(const std::string& path, const std::vector<std::string>& overrides = {});
  // Same, from text; `source` names it in messages.
  static Config load_string(const std::string& text, const std::string& source,
                            const std::vector<std::string>& overrides = {});

  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  double get_double(const std::string& key, double fallback, double min, double max);
  bool get_bool(const std::string& key, bool fallback);
  // `choices` empty means any string.
  std::string get_string(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices = {});
  // One of `choices`' names, as its value (an enum, read once where the configuration is).
  template <typename Value>
  Value get_choice(const std::string& key, Value fallback, const std::vector<std::pair<std::string, Value>>& choices) {
    std::vector<std::string> names;
    std::string fallback_name;
    for (const auto& [name, value] : choices) {
      names.push_back(name);
      if (value == fallback && fallback_name.empty()) fallback_name = name;
    }
    const std::string chosen = get_string(key, fallback_name, names);
    for (const auto& [name, value] : choices) {
      if (name == chosen) return value;
    }
    return fallback;  // not reached: get_string refuses other names
  }
  // A path: ${NAME} is replaced by the environment variable NAME (an error if it is unset).
  std::string get_path(const std::string& key, const std::string& fallback);
  std::vector<int64_t> get_int_list(const std::string& key, const std::vector<int64_t>& fallback,
                                    int64_t min, int64_t max);

  // Whether the file or an override sets `key` (an empty string counts as set).
  bool has(const std::string& key) { return find(key) != nullptr; }

  // Throws naming every key that no get_*() asked for, but for keys under a prefix given to
  // check_keys_later() (a section that a model or optimizer of a program's own reads later).
  void reject_unknown_keys() const;
  void check_keys_later(const std::string& prefix) { later_prefixes_.push_back(prefix); }
  // Throws naming every key under `prefix` ("model.") that no get_*() asked for.
  void reject_unknown_keys_under(const std::string& prefix) const;
  const std::string& source() const { return source_; }
  // The effective configuration as TOML text (after overrides), for logs and checkpoints.
  std::string to_toml() const;

 private:
  Config(toml::table table, std::string source) : table_(std::move(table)), source_(std::move(source)) {}
  void apply_override(const std::string& assignment);
  const toml::node* find(const std::string& key);
  std::string origin(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  // Throws naming the keys that no get_*() asked for, of those `included` picks.
  template <typename Predicate>
  void reject_unknown(Predicate included) const;

  toml::table table_;
  std::string source_;
  std::set<std::string> known_keys_;
  std::vector<std::string> later_prefixes_;
  std::map<std::string, std::string> overridden_;  // key -> the --set text that set it
};

// The keys whose values differ between two configurations (TOML texts), one line each:
// "optimizer.lr: 0.05 -> 0.1", "log.every: (not set) -> 10"; empty when they agree. A text that
// is not TOML counts as setting no key.
std::vector<std::string> config_differences(const std::string& before, const std::string& after);

// The value `name` stands for among `choices` (a table a component keeps of the names its
// settings take, which Config::get_choice reads too); throws naming `what` and the choices.
template <typename Value>
Value parse_choice(const std::vector<std::pair<std::string, Value>>& choices, const std::string& name,
                   const std::string& what) {
  std::string names;
  for (const auto& [choice, value] : choices) {
    if (choice == name) return value;
    names += (names.empty() ? "" : ", ") + choice;
  }
  throw Error("unknown " + what + " \"" + name + "\" (expected " + names + ")");
}

// Replaces ${NAME} with the value of environment variable NAME; throws naming `what` if unset.
std::string expand_environment(const std::string& text, const std::string& what);

}  // namespace rt
