// The fields of one CSV line and the values they hold.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rt {

// Splits one line (RFC 4180 quoting within the line: "a,b", and "" for a quote); a '\r' outside
// quotes is dropped. The first form reuses `fields` and its strings' memory, line after line.
void split_csv_line(const std::string& line, std::vector<std::string>& fields);
std::vector<std::string> split_csv_line(const std::string& line);

// The text without leading and trailing blanks and tabs.
std::string trimmed(const std::string& text);

// A finite number, blanks around it allowed; none for anything else.
std::optional<double> csv_number(const std::string& text);

// A non-negative integer class id within int32; none for anything else.
std::optional<int64_t> csv_class_id(const std::string& text);

}  // namespace rt
