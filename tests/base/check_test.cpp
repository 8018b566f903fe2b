#include <gtest/gtest.h>
#include <hdf5.h>

#include <string>

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

}  // namespace
}  // namespace rt
