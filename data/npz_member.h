// One array of a NumPy .npz archive (np.savez, stored; np.savez_compressed, deflated), read with
// libzip: the member KEY.npy is streamed into a file beside the shards being written, memory-mapped
// from there as any .npy (data/npy_file.h), and removed when this object goes.
#pragma once

#include <string>
#include <vector>

namespace rt {

class NpzMember {
 public:
  // Extracts `key` of `archive` into `directory`; throws naming the archive and the arrays it
  // holds where `key` is not one of them, or where the archive cannot be read.
  NpzMember(const std::string& archive, const std::string& key, const std::string& directory);
  ~NpzMember();
  NpzMember(const NpzMember&) = delete;
  NpzMember& operator=(const NpzMember&) = delete;

  const std::string& path() const { return path_; }  // the extracted .npy
  // Where the member `key` of `archive` is extracted in `directory`.
  static std::string path_in(const std::string& archive, const std::string& key, const std::string& directory);

 private:
  std::string path_;
};

// The arrays an archive holds (its members' names without ".npy"), in archive order.
std::vector<std::string> npz_keys(const std::string& archive);

}  // namespace rt
