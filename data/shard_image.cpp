#include "data/shard_image.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "core/base/check.h"

namespace rt {

ShardImage::ShardImage(size_t size) : size_(size) {
  if (size == 0) return;
  void* pages = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(pages != MAP_FAILED, "cannot map {} bytes for a shard: {}", size, std::strerror(errno));
  data_ = static_cast<uint8_t*>(pages);
}

ShardImage::~ShardImage() {
  if (data_) munmap(data_, size_);
}

}  // namespace rt
