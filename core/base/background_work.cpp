#include "core/base/background_work.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>

#include "core/base/logging.h"

namespace rt {

void run_as_background_work() {
  sched_param parameters{};
  parameters.sched_priority = 0;  // the only priority of SCHED_BATCH
  const int failed = pthread_setschedparam(pthread_self(), SCHED_BATCH, &parameters);
  static std::atomic<bool> warned{false};
  if (failed != 0 && !warned.exchange(true)) {
    log_warning("cannot run the loader's threads as SCHED_BATCH ({}): they may preempt the training thread",
                std::strerror(failed));
  }
}

bool running_as_background_work() {
  int policy = 0;
  sched_param parameters{};
  return pthread_getschedparam(pthread_self(), &policy, &parameters) == 0 && policy == SCHED_BATCH;
}

}  // namespace rt
