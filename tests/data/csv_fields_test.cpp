// A CSV line's fields: quoting within the line, doubled quotes, carriage returns, empty fields, and
// a reused field list that forgets the longer line before it.
#include <gtest/gtest.h>

#include "data/csv_fields.h"

namespace rt {
namespace {

using Fields = std::vector<std::string>;

TEST(CsvFields, QuotesCommasAndCarriageReturns) {
  EXPECT_EQ(split_csv_line("a,b,c"), (Fields{"a", "b", "c"}));
  EXPECT_EQ(split_csv_line("\"a,b\",c\r"), (Fields{"a,b", "c"}));
  EXPECT_EQ(split_csv_line("\"say \"\"hi\"\"\",2"), (Fields{"say \"hi\"", "2"}));
  EXPECT_EQ(split_csv_line(",,"), (Fields{"", "", ""}));
  EXPECT_EQ(split_csv_line(""), (Fields{""}));
  EXPECT_EQ(split_csv_line("ab\"c,d\"e,f"), (Fields{"abc,de", "f"}));
  EXPECT_EQ(split_csv_line("\"open,to the end"), (Fields{"open,to the end"}));
  EXPECT_EQ(split_csv_line("\"\"\"\""), (Fields{"\""}));
  Fields reused;
  split_csv_line("1,2,3,4", reused);
  split_csv_line("x,\"y\"", reused);
  EXPECT_EQ(reused, (Fields{"x", "y"}));
}

TEST(CsvFields, NumbersAndClassIds) {
  EXPECT_EQ(csv_number(" 2.5e3 "), 2500.0);
  EXPECT_FALSE(csv_number("nan"));
  EXPECT_FALSE(csv_number("1.5x"));
  EXPECT_FALSE(csv_number("  "));
  EXPECT_EQ(csv_class_id("7"), 7);
  EXPECT_FALSE(csv_class_id("-1"));
  EXPECT_FALSE(csv_class_id("3000000000"));
}

}  // namespace
}  // namespace rt
