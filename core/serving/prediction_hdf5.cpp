#include "core/serving/prediction_hdf5.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/base/check.h"
#include "core/base/check_hdf5.h"
#include "data/hdf5_handle.h"

namespace rt {

namespace {
Hdf5Handle make_dataset(hid_t file, const char* name, hid_t type, int64_t rows, int64_t width) {
  const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(width)};
  const int rank = width > 0 ? 2 : 1;
  Hdf5Handle space(RT_CHECK_HDF5(H5Screate_simple(rank, dims, nullptr), "dataspace of {}", name), H5Sclose);
  Hdf5Handle properties(RT_CHECK_HDF5(H5Pcreate(H5P_DATASET_CREATE), "properties of {}", name), H5Pclose);
  if (rows > 0) {
    const hsize_t chunk[2] = {static_cast<hsize_t>(std::min<int64_t>(rows, 4096)), dims[1]};
    RT_CHECK_HDF5(H5Pset_chunk(properties.get(), rank, chunk), "chunks of {}", name);
  }
  return Hdf5Handle(RT_CHECK_HDF5(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
                                  "creating dataset {}", name),
                    H5Dclose);
}

void write_rows(hid_t dataset, hid_t type, int64_t first, int64_t count, int64_t width, const void* data) {
  if (count == 0) return;
  const int rank = width > 0 ? 2 : 1;
  Hdf5Handle file_space(RT_CHECK_HDF5(H5Dget_space(dataset), "a dataset's space"), H5Sclose);
  const hsize_t start[2] = {static_cast<hsize_t>(first), 0};
  const hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(width)};
  RT_CHECK_HDF5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr), "rows {}",
                first);
  Hdf5Handle memory_space(RT_CHECK_HDF5(H5Screate_simple(rank, extent, nullptr), "a block's space"), H5Sclose);
  RT_CHECK_HDF5(H5Dwrite(dataset, type, memory_space.get(), file_space.get(), H5P_DEFAULT, data), "writing rows {}",
                first);
}
}  // namespace

void join_predictions_hdf5(const std::vector<std::string>& parts, int64_t rows, const PredictionRecord& record,
                           const ModelDescription& model, const std::string& output) {
  const std::string joined = output + ".joining";
  {
    Hdf5Handle file(RT_CHECK_HDF5(H5Fcreate(joined.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "creating {}",
                                  joined),
                    H5Fclose);
    const int64_t width = record.top_k > 0 ? record.top_k : record.classes;
    // A regression's records hold its value where a classifier's hold the probabilities.
    Hdf5Handle classes = model.regression ? Hdf5Handle() : make_dataset(file.get(), "class", H5T_STD_I32LE, rows, 0);
    Hdf5Handle top_classes = record.top_k > 0 ? make_dataset(file.get(), "top_class", H5T_STD_I32LE, rows, width)
                                              : Hdf5Handle();
    Hdf5Handle probabilities =
        make_dataset(file.get(), model.regression ? "value" : record.top_k > 0 ? "top_probability" : "probabilities",
                     H5T_IEEE_F32LE, rows, model.regression ? 0 : width);
    if (!model.class_names.empty()) {
      size_t longest = 1;
      for (const std::string& name : model.class_names) longest = std::max(longest, name.size());
      Hdf5Handle type(RT_CHECK_HDF5(H5Tcopy(H5T_C_S1), "a string type"), H5Tclose);
      RT_CHECK_HDF5(H5Tset_size(type.get(), longest), "a string type's size");
      std::vector<char> names(longest * model.class_names.size(), '\0');
      for (size_t c = 0; c < model.class_names.size(); ++c) {
        std::memcpy(names.data() + c * longest, model.class_names[c].data(), model.class_names[c].size());
      }
      Hdf5Handle dataset = make_dataset(file.get(), "class_names", type.get(),
                                        static_cast<int64_t>(model.class_names.size()), 0);
      write_rows(dataset.get(), type.get(), 0, static_cast<int64_t>(model.class_names.size()), 0, names.data());
    }

    // The parts, a block of rows at a time: bounded memory whatever the row count.
    constexpr int64_t kBlock = 8192;
    std::vector<char> block(static_cast<size_t>(kBlock * record.bytes()));
    std::vector<int32_t> class_of(kBlock), top(static_cast<size_t>(kBlock * (record.top_k > 0 ? width : 0)));
    std::vector<float> probability(static_cast<size_t>(kBlock * width));
    int64_t row = 0;
    for (const std::string& part : parts) {
      std::ifstream in(part, std::ios::binary);
      RT_CHECK(in.good(), "cannot read {}", part);
      while (true) {
        in.read(block.data(), static_cast<std::streamsize>(block.size()));
        const int64_t got = static_cast<int64_t>(in.gcount());
        RT_CHECK(got % record.bytes() == 0, "{} ends inside a row", part);
        const int64_t n = got / record.bytes();
        for (int64_t r = 0; r < n; ++r) {
          const char* at = block.data() + r * record.bytes();
          std::memcpy(&class_of[static_cast<size_t>(r)], at, 4);
          at += 4;
          if (record.top_k > 0) {
            std::memcpy(&top[static_cast<size_t>(r * width)], at, static_cast<size_t>(4 * width));
            at += 4 * width;
          }
          std::memcpy(&probability[static_cast<size_t>(r * width)], at, static_cast<size_t>(4 * width));
        }
        RT_CHECK(row + n <= rows, "the parts hold more than the {} rows scored", rows);
        if (!model.regression) write_rows(classes.get(), H5T_NATIVE_INT32, row, n, 0, class_of.data());
        if (record.top_k > 0) write_rows(top_classes.get(), H5T_NATIVE_INT32, row, n, width, top.data());
        write_rows(probabilities.get(), H5T_NATIVE_FLOAT, row, n, model.regression ? 0 : width, probability.data());
        row += n;
        if (n < kBlock) break;
      }
    }
    RT_CHECK(row == rows, "the parts hold {} rows of the {} scored", row, rows);
    RT_CHECK_HDF5(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "writing {}", joined);
  }
  std::filesystem::rename(joined, output);
}

}  // namespace rt
