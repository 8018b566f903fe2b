#include "data/npy_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "core/base/check.h"
#include "core/base/half.h"

namespace rt {

namespace {
// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
std::string header_value(const std::string& header, const std::string& key, const std::string& path) {
  std::smatch match;
  const std::regex pattern("'" + key + "'\\s*:\\s*('[^']*'|True|False|\\([^)]*\\))");
  RT_CHECK(std::regex_search(header, match, pattern), "{}: the .npy header has no '{}'", path, key);
  return match[1];
}
}  // namespace

NpyFile::NpyFile(const std::string& file, const std::string& name) : path_(name.empty() ? file : name) {
  const std::string& path = path_;  // as messages name it
  const int descriptor = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  RT_CHECK(descriptor >= 0, "cannot open {}: {}", path, std::strerror(errno));
  struct stat status {};
  const bool stated = fstat(descriptor, &status) == 0;
  mapping_bytes_ = stated ? static_cast<size_t>(status.st_size) : 0;
  if (mapping_bytes_ > 0) {
    mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ, MAP_PRIVATE, descriptor, 0);
    if (mapping_ == MAP_FAILED) mapping_ = nullptr;
  }
  ::close(descriptor);
  RT_CHECK(mapping_ != nullptr, "cannot read {} (empty, or it cannot be mapped)", path);
  const auto* bytes = static_cast<const uint8_t*>(mapping_);

  RT_CHECK(mapping_bytes_ >= 10 && std::memcmp(bytes, "\x93NUMPY", 6) == 0, "{} is not a .npy file", path);
  const int major = bytes[6];
  RT_CHECK(major >= 1 && major <= 3, "{}: .npy format version {} is not supported", path, major);
  const size_t length_bytes = major == 1 ? 2 : 4;
  size_t header_length = 0;
  for (size_t i = 0; i < length_bytes; ++i) header_length |= static_cast<size_t>(bytes[8 + i]) << (8 * i);
  const size_t offset = 8 + length_bytes + header_length;
  RT_CHECK(offset <= mapping_bytes_, "{}: the .npy header runs past the end of the file", path);
  const std::string header(reinterpret_cast<const char*>(bytes) + 8 + length_bytes, header_length);

  std::string descr = header_value(header, "descr", path);
  dtype_ = descr.substr(1, descr.size() - 2);
  RT_CHECK(header_value(header, "fortran_order", path) == "False",
           "{}: the array is in Fortran order; save it in C order (numpy.ascontiguousarray)", path);
  RT_CHECK(dtype_.size() >= 3 && (dtype_[0] == '<' || dtype_[0] == '|' || dtype_[0] == '='),
           "{}: dtype '{}' is not little-endian or one byte", path, dtype_);
  kind_ = dtype_[1];
  item_bytes_ = std::atoi(dtype_.c_str() + 2);
  const bool known = (kind_ == 'f' && (item_bytes_ == 2 || item_bytes_ == 4 || item_bytes_ == 8)) ||
                     ((kind_ == 'i' || kind_ == 'u') &&
                      (item_bytes_ == 1 || item_bytes_ == 2 || item_bytes_ == 4 || item_bytes_ == 8)) ||
                     (kind_ == 'b' && item_bytes_ == 1);
  RT_CHECK(known, "{}: dtype '{}' is not a fixed-size number (bool, int8-64, uint8-64, float16/32/64)", path, dtype_);

  const std::string shape = header_value(header, "shape", path);
  std::smatch number;
  for (auto it = shape.cbegin(); std::regex_search(it, shape.cend(), number, std::regex("\\d+")); it = number.suffix().first) {
    shape_.push_back(std::stoll(number.str()));
  }
  for (size_t d = 1; d < shape_.size(); ++d) row_size_ *= shape_[d];
  const uint64_t elements = static_cast<uint64_t>(rows()) * static_cast<uint64_t>(row_size_);
  RT_CHECK(offset + elements * static_cast<uint64_t>(item_bytes_) <= mapping_bytes_,
           "{}: the file holds {} bytes of data, its header says {} elements of {} bytes", path,
           mapping_bytes_ - offset, elements, item_bytes_);
  data_ = bytes + offset;
}

NpyFile::~NpyFile() {
  if (mapping_) munmap(mapping_, mapping_bytes_);
}

void NpyFile::read_rows(int64_t first, int64_t count, float* out) const {
  RT_CHECK(first >= 0 && count >= 0 && first + count <= rows(), "{}: rows [{}, {}) are outside its {}", path_, first,
           first + count, rows());
  const int64_t n = count * row_size_;
  const uint8_t* in = data_ + first * row_size_ * item_bytes_;
  // Unaligned reads through memcpy: a .npy header leaves the data 64-byte aligned, but be safe.
  auto load = [&](auto type_tag) {
    using T = decltype(type_tag);
    for (int64_t i = 0; i < n; ++i) {
      T value;
      std::memcpy(&value, in + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
      out[i] = static_cast<float>(value);
    }
  };
  switch (kind_) {
    case 'f':
      if (item_bytes_ == 2) {
        for (int64_t i = 0; i < n; ++i) {
          float16 value;
          std::memcpy(&value.bits, in + 2 * i, 2);
          out[i] = to_float(value);
        }
      } else if (item_bytes_ == 4) {
        load(float{});
      } else {
        load(double{});
      }
      break;
    case 'i':
      if (item_bytes_ == 1) load(int8_t{});
      if (item_bytes_ == 2) load(int16_t{});
      if (item_bytes_ == 4) load(int32_t{});
      if (item_bytes_ == 8) load(int64_t{});
      break;
    case 'u':
    case 'b':
      if (item_bytes_ == 1) load(uint8_t{});
      if (item_bytes_ == 2) load(uint16_t{});
      if (item_bytes_ == 4) load(uint32_t{});
      if (item_bytes_ == 8) load(uint64_t{});
      break;
  }
}

}  // namespace rt
