#include "data/npz_member.h"

#include <zip.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/ranges.h>

#include "core/base/check.h"

namespace rt {

namespace {
using Archive = std::unique_ptr<zip_t, int (*)(zip_t*)>;

Archive open_archive(const std::string& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (!archive) {
    zip_error_t reason;
    zip_error_init_with_code(&reason, error);
    const std::string text = zip_error_strerror(&reason);
    zip_error_fini(&reason);
    RT_FAIL("cannot read {} as a .npz archive: {}", path, text);
  }
  return Archive(archive, zip_close);
}

std::vector<std::string> keys_of(zip_t* archive) {
  std::vector<std::string> keys;
  const zip_int64_t entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    std::string name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    keys.push_back(name);
  }
  return keys;
}
}  // namespace

std::vector<std::string> npz_keys(const std::string& archive) { return keys_of(open_archive(archive).get()); }

NpzMember::NpzMember(const std::string& archive, const std::string& key, const std::string& directory) {
  Archive zip = open_archive(archive);
  const zip_int64_t index = zip_name_locate(zip.get(), (key + ".npy").c_str(), 0);
  RT_CHECK(index >= 0, "{} holds no array '{}' (it holds: {})", archive, key, fmt::join(keys_of(zip.get()), ", "));
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  RT_CHECK(!error, "cannot create {}: {}", directory, error.message());
  path_ = path_in(archive, key, directory);
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> member(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(index), 0),
                                                          zip_fclose);
  RT_CHECK(member != nullptr, "{}: cannot open its array '{}': {}", archive, key, zip_strerror(zip.get()));
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  RT_CHECK(out.good(), "cannot write {}", path_);
  std::vector<char> block(size_t{1} << 20);
  for (;;) {
    const zip_int64_t read = zip_fread(member.get(), block.data(), block.size());
    RT_CHECK(read >= 0, "{}: reading its array '{}': {}", archive, key, zip_file_strerror(member.get()));
    if (read == 0) break;
    out.write(block.data(), static_cast<std::streamsize>(read));
  }
  out.close();
  RT_CHECK(out.good(), "cannot write {} (is the disk full?)", path_);
}

std::string NpzMember::path_in(const std::string& archive, const std::string& key, const std::string& directory) {
  return (std::filesystem::path(directory) / fmt::format(".{}.{}.npy", std::filesystem::path(archive).stem().string(), key))
      .string();
}

NpzMember::~NpzMember() { std::remove(path_.c_str()); }

}  // namespace rt
