#include <gtest/gtest.h>
#include <hdf5.h>

#include <string>
#include <vector>

#include "core/base/check.h"
#include "core/base/check_hdf5.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using testing::error_message;

TEST(Check, PassingConditionDoesNotThrow) { EXPECT_NO_THROW(RT_CHECK(1 + 1 == 2, "never")); }

TEST(Check, FailingConditionNamesMessageFileLineAndExpression) {
  std::string text = error_message([] { RT_CHECK(2 < 1, "value {} too small", 7); });
  EXPECT_NE(text.find("value 7 too small"), std::string::npos) << text;
  EXPECT_NE(text.find("tests/base/check_test.cpp:"), std::string::npos) << text;
  EXPECT_NE(text.find("2 < 1"), std::string::npos) << text;
}

TEST(Check, Hdf5FailureCarriesContextAndHdf5Reason) {
  silence_hdf5_errors();
  std::string text = error_message([] {
    RT_CHECK_HDF5(H5Fopen("/nonexistent/ringtrain.h5", H5F_ACC_RDONLY, H5P_DEFAULT), "opening {}", "the test file");
  });
  EXPECT_NE(text.find("opening the test file"), std::string::npos) << text;
  EXPECT_NE(text.find("H5Fopen"), std::string::npos) << text;
  EXPECT_NE(text.find("unable to open file"), std::string::npos) << text;
}

TEST(Check, Hdf5SuccessReturnsTheValue) {
  hid_t space = RT_CHECK_HDF5(H5Screate(H5S_SCALAR), "scalar space");
  EXPECT_GE(space, 0);
  H5Sclose(space);
}


// Users see the message alone: every "[file:line: condition]" part goes, nested ones and those
// whose condition holds brackets included; other brackets stay.
TEST(Check, UsersSeeMessagesWithoutSourceLocations) {
  std::string text = error_message([] {
    try {
      RT_CHECK(false, "inner [{}]", "kept");
    } catch (const Error& inner) {
      std::vector<int> labels{1};
      RT_CHECK(labels[0] == 0, "outer: {}", inner.what());
    }
  });
  EXPECT_NE(text.find("[tests/base/check_test.cpp:"), std::string::npos) << text;  // developers' text
  EXPECT_EQ(without_source_locations(text), "outer: inner [kept]") << text;
}

TEST(Check, IntegrityFailuresHaveTheirOwnType) {
  EXPECT_THROW(RT_CHECK_INTEGRITY(1 > 2, "checksum {}", 1), IntegrityError);
  try {
    RT_CHECK(1 > 2, "plain");
  } catch (const IntegrityError&) {
    ADD_FAILURE() << "an I/O-style failure came as an integrity error";
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace rt
