// When an elementwise CPU kernel splits its loop across the rank's OpenMP threads: below this many
// elements the fork and join cost more than the loop.
#pragma once

#include <cstdint>

namespace rt::kernels::cpu {
constexpr int64_t kParallelElements = int64_t{1} << 16;
}
