#include "data/shard_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <thread>
#include <vector>

#include <hdf5_hl.h>
#include <nlohmann/json.hpp>

#include "core/base/check_hdf5.h"
#include "core/base/logging.h"
#include "data/shard_format.h"

// Shards are opened on the loader's reading threads while other threads open theirs (the next
// epoch's window read ahead, an evaluation) or write checkpoints: HDF5 must serialise its calls.
#ifndef H5_HAVE_THREADSAFE
#error "ringtrain needs HDF5 built thread-safe (H5_HAVE_THREADSAFE), as Debian's libhdf5 is"
#endif

namespace rt {

namespace {

Hdf5Handle open_attribute(hid_t file, const char* name, const std::string& path) {
  htri_t exists = H5Aexists(file, name);
  RT_CHECK(exists > 0, "shard {}: attribute '{}' is missing (not a ringtrain shard?)", path, name);
  return Hdf5Handle(RT_CHECK_HDF5(H5Aopen(file, name, H5P_DEFAULT), "shard {}: opening attribute {}", path, name),
                    H5Aclose);
}

hssize_t attribute_elements(hid_t attribute) {
  Hdf5Handle space(H5Aget_space(attribute), H5Sclose);
  return H5Sget_simple_extent_npoints(space.get());
}

std::vector<int64_t> read_int64s(hid_t file, const char* name, const std::string& path) {
  Hdf5Handle attribute = open_attribute(file, name, path);
  Hdf5Handle type(H5Aget_type(attribute.get()), H5Tclose);
  RT_CHECK(H5Tget_class(type.get()) == H5T_INTEGER, "shard {}: attribute '{}' must hold integers", path, name);
  std::vector<int64_t> values(static_cast<size_t>(attribute_elements(attribute.get())));
  RT_CHECK_HDF5(H5Aread(attribute.get(), H5T_NATIVE_INT64, values.data()), "shard {}: reading attribute {}", path,
                name);
  return values;
}

int64_t read_int64(hid_t file, const char* name, const std::string& path) {
  std::vector<int64_t> values = read_int64s(file, name, path);
  RT_CHECK(values.size() == 1, "shard {}: attribute '{}' must be one integer, it holds {}", path, name, values.size());
  return values[0];
}

double read_double(hid_t file, const char* name, const std::string& path) {
  Hdf5Handle attribute = open_attribute(file, name, path);
  Hdf5Handle type(H5Aget_type(attribute.get()), H5Tclose);
  H5T_class_t type_class = H5Tget_class(type.get());
  RT_CHECK((type_class == H5T_FLOAT || type_class == H5T_INTEGER) && attribute_elements(attribute.get()) == 1,
           "shard {}: attribute '{}' must be one number", path, name);
  double value = 0;
  RT_CHECK_HDF5(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value), "shard {}: reading attribute {}", path, name);
  return value;
}

std::string read_string(hid_t file, const char* name, const std::string& path) {
  Hdf5Handle attribute = open_attribute(file, name, path);
  Hdf5Handle type(H5Aget_type(attribute.get()), H5Tclose);
  RT_CHECK(H5Tget_class(type.get()) == H5T_STRING && !H5Tis_variable_str(type.get()),
           "shard {}: attribute '{}' must be a fixed-length string", path, name);
  std::string value(H5Tget_size(type.get()), '\0');
  RT_CHECK_HDF5(H5Aread(attribute.get(), type.get(), value.data()), "shard {}: reading attribute {}", path, name);
  while (!value.empty() && value.back() == '\0') value.pop_back();
  return value;
}

// The class_names attribute: a JSON array of `classes` distinct strings.
std::vector<std::string> parse_class_names(const std::string& text, int64_t classes, const std::string& path) {
  std::vector<std::string> names;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    RT_CHECK(j.is_array(), "shard {}: attribute 'class_names' is not a JSON array", path);
    for (const nlohmann::json& name : j) {
      RT_CHECK(name.is_string(), "shard {}: class name {} is not text", path, name.dump());
      names.push_back(name.get<std::string>());
    }
  } catch (const nlohmann::json::exception& error) {
    RT_FAIL("shard {}: attribute 'class_names' is not JSON ({})", path, error.what());
  }
  RT_CHECK(static_cast<int64_t>(names.size()) == classes, "shard {}: {} class names for num_classes = {}", path,
           names.size(), classes);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  RT_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), "shard {}: class names repeat", path);
  return names;
}

std::vector<int64_t> dataset_dims(hid_t dataset) {
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// "uint8", "int32", "float64"... for messages.
std::string type_text(hid_t type) {
  const char* kind = "other";
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: kind = H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int"; break;
    case H5T_FLOAT: kind = "float"; break;
    case H5T_STRING: return "string";
    default: return "a non-numeric type";
  }
  return fmt::format("{}{}", kind, H5Tget_size(type) * 8);
}

// Whether `type` is one of the standard layouts of its kind (either byte order): a type that is
// float32 or int32 by class and size but with another bit layout (a flipped bit in its description)
// would be converted by HDF5 into other values.
bool standard_layout(hid_t type, std::initializer_list<hid_t> layouts) {
  for (hid_t layout : layouts) {
    if (H5Tequal(type, layout) > 0) return true;
  }
  return false;
}

Hdf5Handle open_dataset(hid_t file, const char* name, const std::string& path) {
  RT_CHECK(H5Lexists(file, name, H5P_DEFAULT) > 0, "shard {}: dataset '{}' is missing", path, name);
  return Hdf5Handle(RT_CHECK_HDF5(H5Dopen2(file, name, H5P_DEFAULT), "shard {}: opening dataset {}", path, name),
                    H5Dclose);
}

}  // namespace

namespace {
std::atomic<int> injected_failures{0};
}  // namespace

void ShardReader::inject_read_failures(int count) { injected_failures = count; }

ShardReader::ShardReader(const std::string& path, ReadRetries retries) : retries_(retries) {
  silence_hdf5_errors();
  info_.path = path;
  open();
}

ShardReader::ShardReader(const std::string& path, ReadRetries retries,
                         std::shared_ptr<const ShardImage> image)
    : retries_(retries), image_(std::move(image)) {
  RT_CHECK(image_ != nullptr, "shard {}: no image to read it from", path);
  silence_hdf5_errors();
  info_.path = path;
  open();
}

ShardReader::~ShardReader() { close_file(); }

void ShardReader::close_file() {
  direct_planned_ = false;
  damaged_.clear();
  direct_features_.reset();
  direct_labels_.reset();
  labels_.reset();
  features_.reset();
  file_.reset();
  if (descriptor_ >= 0) ::close(descriptor_);
  descriptor_ = -1;
}

void ShardReader::read_bytes(uint64_t offset, uint8_t* data, size_t bytes, uint8_t* tail, size_t tail_bytes) const {
  if (image_) {  // DirectChunks::plan checked that the chunks lie within the file's bytes
    std::memcpy(data, image_->data() + offset, bytes);
    std::memcpy(tail, image_->data() + offset + bytes, tail_bytes);
    return;
  }
  auto read_all = [&](uint8_t* into, size_t count, uint64_t at) {
    for (size_t done = 0; done < count;) {
      const ssize_t got = ::pread(descriptor_, into + done, count - done, static_cast<off_t>(at + done));
      if (got < 0 && errno == EINTR) continue;
      RT_CHECK(got >= 0, "shard {}: reading {} bytes at byte {}: {}", info_.path, count - done, at + done,
               std::strerror(errno));
      RT_CHECK(got > 0, "shard {}: short read, the file ends before byte {}", info_.path, at + count);
      done += static_cast<size_t>(got);
    }
  };
  read_all(data, bytes, offset);
  read_all(tail, tail_bytes, offset + bytes);
}

void ShardReader::open() {
  const std::string& path = info_.path;
  if (image_) {
    // Read-only, no copy, and the buffer stays ours (HDF5 must not free it).
    const hid_t opened = H5LTopen_file_image(const_cast<uint8_t*>(image_->data()), image_->size(),
                                             H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
    RT_CHECK(opened >= 0, "shard {} is not an HDF5 file (or is truncated): {} bytes read", path, image_->size());
    file_ = Hdf5Handle(opened, H5Fclose);
    info_.file_bytes = static_cast<int64_t>(image_->size());
  } else {
    struct stat status {};
    RT_CHECK(stat(path.c_str(), &status) == 0, "shard {} does not exist or cannot be read", path);
    info_.file_bytes = static_cast<int64_t>(status.st_size);
    // One open, not H5Fis_hdf5 first (a second open and read: on a blob mount, each is a request).
    const hid_t opened = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    RT_CHECK(opened >= 0, "shard {} is not an HDF5 file (or is truncated, or could not be read)", path);
    file_ = Hdf5Handle(opened, H5Fclose);
  }
  hid_t file = file_.get();

  std::string format = read_string(file, shard_format::kAttrFormat, path);
  RT_CHECK(format == shard_format::kFormatName, "shard {}: format is '{}', expected '{}'", path, format,
           shard_format::kFormatName);
  int64_t version = read_int64(file, shard_format::kAttrVersion, path);
  RT_CHECK(version == shard_format::kVersion, "shard {}: format version {} is not supported (this build reads {})",
           path, version, shard_format::kVersion);
  info_.samples = read_int64(file, shard_format::kAttrSamples, path);
  RT_CHECK(info_.samples >= 0, "shard {}: num_samples is {}", path, info_.samples);
  info_.feature_shape = read_int64s(file, shard_format::kAttrFeatureShape, path);
  RT_CHECK(!info_.feature_shape.empty(), "shard {}: feature_shape is empty", path);
  for (int64_t extent : info_.feature_shape) {
    RT_CHECK(extent > 0, "shard {}: feature_shape has a non-positive extent {}", path, extent);
  }
  info_.classes = read_int64(file, shard_format::kAttrClasses, path);
  RT_CHECK(info_.classes > 0 && info_.classes <= INT32_MAX, "shard {}: num_classes is {}", path, info_.classes);
  info_.feature_scale = read_double(file, shard_format::kAttrFeatureScale, path);
  RT_CHECK(std::isfinite(info_.feature_scale) && info_.feature_scale != 0.0, "shard {}: feature_scale is {}", path,
           info_.feature_scale);
  if (H5Aexists(file, shard_format::kAttrTask) > 0) {
    const std::string task = read_string(file, shard_format::kAttrTask, path);
    RT_CHECK(task == shard_format::kTaskRegression || task == "classification",
             "shard {}: task is '{}', expected 'classification' or 'regression'", path, task);
    info_.regression = task == shard_format::kTaskRegression;
    RT_CHECK(!info_.regression || info_.classes == 1, "shard {}: a regression shard has num_classes 1, not {}", path,
             info_.classes);
  }
  if (H5Aexists(file, shard_format::kAttrClassNames) > 0) {
    info_.class_names = parse_class_names(read_string(file, shard_format::kAttrClassNames, path), info_.classes, path);
  }

  features_ = open_dataset(file, shard_format::kFeatures, path);
  Hdf5Handle feature_type(H5Dget_type(features_.get()), H5Tclose);
  std::string stored = type_text(feature_type.get());
  if (stored == "uint8" && standard_layout(feature_type.get(), {H5T_STD_U8LE})) {
    info_.feature_dtype = DType::kUInt8;
  } else if (stored == "float32" && standard_layout(feature_type.get(), {H5T_IEEE_F32LE, H5T_IEEE_F32BE})) {
    info_.feature_dtype = DType::kFloat32;
  } else {
    RT_FAIL("shard {}: dataset 'features' has type {}, expected uint8 or float32", path, stored);
  }
  std::vector<int64_t> expected_dims{info_.samples};
  expected_dims.insert(expected_dims.end(), info_.feature_shape.begin(), info_.feature_shape.end());
  std::vector<int64_t> dims = dataset_dims(features_.get());
  RT_CHECK(dims == expected_dims, "shard {}: dataset 'features' has shape [{}], the attributes say [{}]", path,
           fmt::join(dims, ", "), fmt::join(expected_dims, ", "));

  labels_ = open_dataset(file, shard_format::kLabels, path);
  Hdf5Handle label_type(H5Dget_type(labels_.get()), H5Tclose);
  stored = type_text(label_type.get());
  if (info_.regression) {
    RT_CHECK(stored == "float32" && standard_layout(label_type.get(), {H5T_IEEE_F32LE, H5T_IEEE_F32BE}),
             "shard {}: dataset 'labels' has type {}, expected float32 (task = regression)", path, stored);
  } else {
    RT_CHECK(stored == "int32" && standard_layout(label_type.get(), {H5T_STD_I32LE, H5T_STD_I32BE}),
             "shard {}: dataset 'labels' has type {}, expected int32", path, stored);
  }
  dims = dataset_dims(labels_.get());
  RT_CHECK(dims == std::vector<int64_t>{info_.samples}, "shard {}: dataset 'labels' has shape [{}], expected [{}]",
           path, fmt::join(dims, ", "), info_.samples);
}

hid_t ShardReader::label_memory_type() const { return info_.regression ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32; }

void ShardReader::plan_reads() {
  const std::string& path = info_.path;
  const hid_t file = file_.get();
  ChunkAudit audit(path, info_.file_bytes);
  audit.add(features_.get(), shard_format::kFeatures);
  audit.add(labels_.get(), shard_format::kLabels);
  damaged_ = audit.damaged();
  // Where both datasets allow it, rows are read straight from their chunks (direct_chunks.h).
  const hid_t feature_memory = info_.feature_dtype == DType::kUInt8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
  direct_features_ = DirectChunks::plan(file, features_.get(), feature_memory, path, shard_format::kFeatures,
                                        info_.file_bytes);
  direct_labels_ = DirectChunks::plan(file, labels_.get(), label_memory_type(), path, shard_format::kLabels,
                                      info_.file_bytes);
  if (!direct_features_ || !direct_labels_) {
    direct_features_.reset();
    direct_labels_.reset();
  } else if (!image_) {
    descriptor_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    RT_CHECK(descriptor_ >= 0, "cannot open shard {}: {}", path, std::strerror(errno));
  }
  direct_planned_ = true;
}

void ShardReader::read(int64_t first, int64_t count, void* features, int32_t* labels) {
  RT_CHECK(first >= 0 && count >= 0 && first + count <= info_.samples,
           "shard {}: rows [{}, {}) are outside its {} samples", info_.path, first, first + count, info_.samples);
  if (count == 0) return;
  for (int attempt = 0;; ++attempt) {
    try {
      read_once(first, count, features, labels);
      break;
    } catch (const IntegrityError&) {
      throw;  // a checksum fails again however often it is read
    } catch (const Error& error) {
      if (attempt >= retries_.attempts) {
        RT_FAIL("shard {}: reading rows [{}, {}) failed {} time(s): {}", info_.path, first, first + count, attempt + 1,
                error.what());
      }
      log_warning("shard {}: read failed ({}), retrying in {} ms", info_.path, error.what(),
                  retries_.backoff_ms << attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(retries_.backoff_ms << attempt));
      close_file();
      open();  // a flaky mount may have dropped the file: start again from the path
    }
  }
  for (int64_t i = 0; i < count; ++i) {
    if (info_.regression) {
      float target;
      std::memcpy(&target, &labels[i], sizeof(target));
      RT_CHECK(std::isfinite(target), "shard {}: the target of row {} is {}", info_.path, first + i, target);
      continue;
    }
    RT_CHECK(labels[i] >= 0 && labels[i] < info_.classes, "shard {}: label {} of row {} is outside [0, {})",
             info_.path, labels[i], first + i, info_.classes);
  }
}

void ShardReader::read_once(int64_t first, int64_t count, void* features, int32_t* labels) {
  if (injected_failures > 0 && injected_failures-- > 0) RT_FAIL("injected read failure (as EIO from the mount)");
  if (!direct_planned_) plan_reads();  // on the first read: opening (the index) stays cheap
  for (const DamagedRows& damaged : damaged_) {
    if (damaged.first < first + count && first < damaged.end) {
      RT_FAIL("shard {}: rows [{}, {}) are damaged: {}; the shard is corrupt", info_.path, damaged.first,
              damaged.end, damaged.reason);
    }
  }
  if (direct_features_) {
    const DirectChunks::Source source = [this](uint64_t offset, uint8_t* data, size_t bytes, uint8_t* tail,
                                               size_t tail_bytes) { read_bytes(offset, data, bytes, tail, tail_bytes); };
    direct_features_->read(source, first, count, static_cast<uint8_t*>(features));
    direct_labels_->read(source, first, count, reinterpret_cast<uint8_t*>(labels));
    return;
  }
  int rank = static_cast<int>(info_.feature_shape.size()) + 1;
  std::vector<hsize_t> start(rank, 0), extent(rank);
  start[0] = static_cast<hsize_t>(first);
  extent[0] = static_cast<hsize_t>(count);
  for (int d = 1; d < rank; ++d) extent[d] = static_cast<hsize_t>(info_.feature_shape[d - 1]);

  Hdf5Handle file_space(H5Dget_space(features_.get()), H5Sclose);
  RT_CHECK_HDF5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
                "shard {}: selecting rows", info_.path);
  Hdf5Handle memory_space(H5Screate_simple(rank, extent.data(), nullptr), H5Sclose);
  hid_t memory_type = info_.feature_dtype == DType::kUInt8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
  RT_CHECK_HDF5(H5Dread(features_.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, features),
                "shard {}: reading features of rows [{}, {})", info_.path, first, first + count);

  Hdf5Handle label_space(H5Dget_space(labels_.get()), H5Sclose);
  RT_CHECK_HDF5(H5Sselect_hyperslab(label_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
                "shard {}: selecting labels", info_.path);
  Hdf5Handle label_memory(H5Screate_simple(1, extent.data(), nullptr), H5Sclose);
  RT_CHECK_HDF5(H5Dread(labels_.get(), label_memory_type(), label_memory.get(), label_space.get(), H5P_DEFAULT, labels),
                "shard {}: reading labels of rows [{}, {})", info_.path, first, first + count);
}

}  // namespace rt
