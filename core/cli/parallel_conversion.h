// Conversions that every rank of a job shares (`ringtrain shard` under mpirun): the shards are
// planned alike on every rank, rank 0 prepares the output (keeping the shards of an interrupted
// run of the same conversion), each rank converts its part, and rank 0 writes the manifest once
// every part is done.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "comm/communicator.h"
#include "data/csv_shards.h"
#include "data/image_folder_shards.h"
#include "data/shard_converter.h"

namespace rt {

// "HEIGHTxWIDTH" or one number (a square); throws a CLI11 error naming --size otherwise.
std::pair<int64_t, int64_t> parse_image_size(const std::string& text);

void convert_image_folder(const ImageFolderConversion& conversion, Communicator& comm);
void convert_csv(const CsvConversion& conversion, Communicator& comm);
// NumPy arrays: `conversion.images` and `.labels` the .npy files, or with `npz` an archive's
// members `features_key` and `labels_key` (rank 0 extracts them beside the shards).
void convert_arrays(ShardConversion conversion, const std::string& npz, const std::string& features_key,
                    const std::string& labels_key, Communicator& comm);

}  // namespace rt
