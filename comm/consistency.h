// Proof that data-parallel ranks still agree: a fingerprint of the parameters compared across ranks.
#pragma once

#include <cstdint>
#include <string>

#include "comm/communicator.h"
#include "core/base/span.h"

namespace rt {

// FNV-1a over the bytes: equal on two ranks if and only if (barring collisions) their values are
// bitwise identical.
uint64_t fingerprint(Span<const float> values);

// Compares the fingerprint of `values` across all ranks (one all-gather of 8 bytes per rank).
// Throws naming the ranks that differ from the majority (on a tie, from rank 0's group), and `when` (e.g. "step 1200").
// Returns the common fingerprint.
uint64_t check_identical_across_ranks(Communicator& comm, Span<const float> values, const std::string& when);

// One small all-reduce that does two things each step: returns whether `flag` is set on any rank,
// and checks that all ranks have called the same collectives (kinds, sizes, types, order) so far.
// Ranks that differ (a rank-dependent branch around a collective, say) would otherwise hang or
// silently mix gradients of different layouts; this throws naming them and the collective each
// called last, at `when`.
bool check_collectives_agree(Communicator& comm, bool flag, const std::string& when);

}  // namespace rt
