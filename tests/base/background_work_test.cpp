#include "core/base/background_work.h"

#include <gtest/gtest.h>

#include <thread>

namespace rt {
namespace {

TEST(BackgroundWork, MarksTheCallingThreadAlone) {
  ASSERT_FALSE(running_as_background_work());
  bool marked = false;
  std::thread worker([&] {
    run_as_background_work();
    marked = running_as_background_work();
  });
  worker.join();
  EXPECT_TRUE(marked);
  EXPECT_FALSE(running_as_background_work()) << "the thread that started it is unchanged";
}

}  // namespace
}  // namespace rt
