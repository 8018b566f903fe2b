// A table of factories by name, safe to add to from any thread (model_registry.h,
// optimizer_registry.h).
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/base/check.h"

namespace rt {

template <typename Factory>
class Registry {
 public:
  // `what` names the table's key in messages ("model.kind").
  explicit Registry(std::string what) : what_(std::move(what)) {}

  void add(const std::string& kind, Factory factory, bool built_in) {
    RT_CHECK(!kind.empty() && std::all_of(kind.begin(), kind.end(),
                                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }),
             "{} '{}' cannot be registered: a name is letters, digits, '_' and '-'", what_, kind);
    RT_CHECK(factory, "{} '{}' cannot be registered without a factory", what_, kind);
    std::lock_guard<std::mutex> lock(mutex_);
    RT_CHECK(!entries_.count(kind), "{} '{}' is registered already", what_, kind);
    entries_[kind] = Entry{std::move(factory), built_in};
  }
  bool contains(const std::string& kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.count(kind) > 0;
  }
  bool built_in(const std::string& kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(kind);
    return found != entries_.end() && found->second.built_in;
  }
  std::vector<std::string> kinds() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> kinds;
    for (const auto& [kind, entry] : entries_) kinds.push_back(kind);
    return kinds;
  }
  // The kind's factory; an unknown kind is an error naming the registered ones.
  Factory find(const std::string& kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(kind);
    if (found == entries_.end()) {
      std::vector<std::string> kinds;
      for (const auto& [name, entry] : entries_) kinds.push_back(name);
      throw Error(fmt::format("{} '{}' is not registered in this program (registered: {}); a model or optimizer of "
                              "your own is registered by the program that defines it",
                              what_, kind, fmt::join(kinds, ", ")));
    }
    return found->second.factory;
  }

 private:
  struct Entry {
    Factory factory;
    bool built_in = false;
  };
  std::string what_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace rt
