#include "comm/consistency.h"

#include <map>
#include <vector>

#include "core/base/check.h"
#include "core/base/hash.h"

namespace rt {

uint64_t fingerprint(Span<const float> values) { return fnv1a(values.data(), values.size_bytes()); }

uint64_t check_identical_across_ranks(Communicator& comm, Span<const float> values, const std::string& when) {
  auto mine = static_cast<int64_t>(fingerprint(values));
  std::vector<int64_t> all(static_cast<size_t>(comm.size()));
  comm.all_gather(Span<const int64_t>(&mine, 1), Span<int64_t>(all));
  std::map<int64_t, int> votes;
  for (int64_t print : all) ++votes[print];
  if (votes.size() == 1) return static_cast<uint64_t>(mine);
  // The majority; on a tie, the group of the lowest rank (rank 0's parameters are the reference).
  int64_t majority = all[0];
  for (int64_t print : all) {
    if (votes[print] > votes[majority]) majority = print;
  }
  std::vector<std::string> differing;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r] != majority) differing.push_back(fmt::format("{} ({:016x})", r, static_cast<uint64_t>(all[r])));
  }
  RT_FAIL("parameters differ between ranks at {}: rank(s) {} differ from the others ({:016x})", when,
          fmt::join(differing, ", "), static_cast<uint64_t>(majority));
}

bool check_collectives_agree(Communicator& comm, bool flag, const std::string& when) {
  auto fingerprint = static_cast<int64_t>(comm.collective_fingerprint());
  CollectiveCall last = comm.last_collective();
  // max(~x) is ~min(x): one MAX reduction gives the flag, the largest and the smallest fingerprint.
  int64_t values[3] = {flag ? 1 : 0, fingerprint, ~fingerprint};
  comm.all_reduce(Span<int64_t>(values, 3), ReduceOp::kMax);
  if (values[1] == ~values[2]) return values[0] != 0;

  constexpr size_t kRow = 1 + kCallWords;  // fingerprint, last call
  int64_t mine[kRow] = {fingerprint};
  encode_call(last, mine + 1);
  std::vector<int64_t> all(kRow * static_cast<size_t>(comm.size()));
  comm.all_gather(Span<const int64_t>(mine, kRow), Span<int64_t>(all));
  std::map<int64_t, std::vector<int>> groups;  // fingerprint -> ranks
  for (int r = 0; r < comm.size(); ++r) groups[all[kRow * r]].push_back(r);
  std::vector<std::string> parts;
  for (const auto& [print, ranks] : groups) {
    CollectiveCall call = decode_call(&all[kRow * static_cast<size_t>(ranks.front()) + 1]);
    parts.push_back(fmt::format("rank(s) {} last called {}", fmt::join(ranks, ", "), describe(call)));
  }
  RT_FAIL("ranks called different collectives by {}: {}", when, fmt::join(parts, "; "));
}

}  // namespace rt
