#include "data/shard_writer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/check_hdf5.h"
#include "data/hdf5_handle.h"
#include "data/shard_format.h"

namespace rt {

namespace {

hid_t hdf5_type(DType dtype) {
  switch (dtype) {
    case DType::kUInt8: return H5T_NATIVE_UINT8;
    case DType::kFloat32: return H5T_NATIVE_FLOAT;
    default: RT_FAIL("shards store features as uint8 or float32, not {}", dtype_name(dtype));
  }
}

void write_int64_attribute(hid_t object, const char* name, const std::vector<int64_t>& values, bool scalar,
                           const std::string& path) {
  hsize_t extent = values.size();
  Hdf5Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &extent, nullptr), H5Sclose);
  Hdf5Handle attribute(RT_CHECK_HDF5(H5Acreate2(object, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: creating attribute {}", path, name),
                       H5Aclose);
  RT_CHECK_HDF5(H5Awrite(attribute.get(), H5T_NATIVE_INT64, values.data()), "{}: writing attribute {}", path, name);
}

void write_double_attribute(hid_t object, const char* name, double value, const std::string& path) {
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attribute(RT_CHECK_HDF5(H5Acreate2(object, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: creating attribute {}", path, name),
                       H5Aclose);
  RT_CHECK_HDF5(H5Awrite(attribute.get(), H5T_NATIVE_DOUBLE, &value), "{}: writing attribute {}", path, name);
}

void write_string_attribute(hid_t object, const char* name, const std::string& value, const std::string& path) {
  Hdf5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.size());
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attribute(RT_CHECK_HDF5(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: creating attribute {}", path, name),
                       H5Aclose);
  RT_CHECK_HDF5(H5Awrite(attribute.get(), type.get(), value.data()), "{}: writing attribute {}", path, name);
}

void write_dataset(hid_t file, const char* name, hid_t stored_type, hid_t memory_type,
                   const std::vector<hsize_t>& dims, const void* data, const std::string& path) {
  int rank = static_cast<int>(dims.size());
  Hdf5Handle space(H5Screate_simple(rank, dims.data(), nullptr), H5Sclose);
  Hdf5Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min<hsize_t>(dims[0], shard_format::kChunkSamples);
    RT_CHECK_HDF5(H5Pset_chunk(properties.get(), rank, chunk.data()), "{}: chunking {}", path, name);
    // A checksum per chunk: a corrupt or half-written chunk fails its read instead of training on garbage.
    RT_CHECK_HDF5(H5Pset_fletcher32(properties.get()), "{}: checksum filter for {}", path, name);
  }
  Hdf5Handle dataset(RT_CHECK_HDF5(H5Dcreate2(file, name, stored_type, space.get(), H5P_DEFAULT, properties.get(),
                                              H5P_DEFAULT),
                                   "{}: creating dataset {}", path, name),
                     H5Dclose);
  if (dims[0] > 0) {
    RT_CHECK_HDF5(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "{}: writing {}", path,
                  name);
  }
}

}  // namespace

void write_shard(const ShardInfo& info, const void* features, const void* labels) {
  silence_hdf5_errors();
  RT_CHECK(info.classes > 0, "{}: a shard needs num_classes > 0", info.path);
  RT_CHECK(info.class_names.empty() || static_cast<int64_t>(info.class_names.size()) == info.classes,
           "{}: {} class names for {} classes", info.path, info.class_names.size(), info.classes);
  const auto* bytes = static_cast<const uint8_t*>(labels);
  for (int64_t i = 0; i < info.samples; ++i) {
    if (info.regression) {
      float target;
      std::memcpy(&target, bytes + 4 * i, 4);
      RT_CHECK(std::isfinite(target), "{}: the target of sample {} is {}", info.path, i, target);
    } else {
      int32_t label;
      std::memcpy(&label, bytes + 4 * i, 4);
      RT_CHECK(label >= 0 && label < info.classes, "{}: label {} of sample {} is outside [0, {})", info.path, label, i,
               info.classes);
    }
  }
  RT_CHECK(!info.regression || (info.classes == 1 && info.class_names.empty()),
           "{}: a regression shard has one output and no class names", info.path);
  std::string partial = info.path + ".partial";
  {
    Hdf5Handle file(RT_CHECK_HDF5(H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                                  "cannot create shard {}", partial),
                    H5Fclose);
    hid_t type = hdf5_type(info.feature_dtype);
    std::vector<hsize_t> feature_dims{static_cast<hsize_t>(info.samples)};
    for (int64_t extent : info.feature_shape) feature_dims.push_back(static_cast<hsize_t>(extent));
    write_dataset(file.get(), shard_format::kFeatures,
                  info.feature_dtype == DType::kUInt8 ? H5T_STD_U8LE : H5T_IEEE_F32LE, type, feature_dims, features,
                  partial);
    if (info.regression) {
      write_dataset(file.get(), shard_format::kLabels, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                    {static_cast<hsize_t>(info.samples)}, labels, partial);
      write_string_attribute(file.get(), shard_format::kAttrTask, shard_format::kTaskRegression, partial);
    } else {
      write_dataset(file.get(), shard_format::kLabels, H5T_STD_I32LE, H5T_NATIVE_INT32,
                    {static_cast<hsize_t>(info.samples)}, labels, partial);
    }
    write_string_attribute(file.get(), shard_format::kAttrFormat, shard_format::kFormatName, partial);
    write_int64_attribute(file.get(), shard_format::kAttrVersion, {shard_format::kVersion}, true, partial);
    write_int64_attribute(file.get(), shard_format::kAttrSamples, {info.samples}, true, partial);
    write_int64_attribute(file.get(), shard_format::kAttrFeatureShape, info.feature_shape, false, partial);
    write_int64_attribute(file.get(), shard_format::kAttrClasses, {info.classes}, true, partial);
    write_double_attribute(file.get(), shard_format::kAttrFeatureScale, info.feature_scale, partial);
    if (!info.class_names.empty()) {
      write_string_attribute(file.get(), shard_format::kAttrClassNames, nlohmann::json(info.class_names).dump(),
                             partial);
    }
    RT_CHECK_HDF5(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flushing shard {}", partial);
  }
  RT_CHECK(std::rename(partial.c_str(), info.path.c_str()) == 0, "cannot rename {} to {}", partial, info.path);
}

}  // namespace rt
