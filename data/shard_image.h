// A shard file's bytes in memory (a prefetched shard), in pages mapped for it alone and returned to
// the system when it is freed: a long run of shard-sized buffers from several threads then does
// not leave the process holding freed ones in malloc's arenas.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rt {

class ShardImage {
 public:
  explicit ShardImage(size_t size);
  ~ShardImage();
  ShardImage(const ShardImage&) = delete;
  ShardImage& operator=(const ShardImage&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rt
