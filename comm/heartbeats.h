// Signs of life between the ranks, for the collective watchdog. Every rank but 0 beats to rank 0
// and rank 0 to every rank, a few times per timeout, from the watchdog thread. That thread beats
// while its rank's main thread computes, evaluates or writes a checkpoint, so silence means the
// process is stopped, hung in the kernel, or its host is lost: something no amount of waiting ends,
// told apart from a rank that is only slow, whatever the other ranks are doing at the time. At its
// end a rank says goodbye, so that a rank that has finished is not taken for a silent one.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace rt {

class Heartbeats {
 public:
  // `comm`: the watchdog's communicator (heartbeats use a tag of their own on it).
  Heartbeats(MPI_Comm comm, double interval_seconds);
  Heartbeats(const Heartbeats&) = delete;
  Heartbeats& operator=(const Heartbeats&) = delete;
  // Completes or frees its sends and receives what came, so the communicator can be freed.
  ~Heartbeats();

  // Sends a beat to the ranks that watch this one when one is due; receives those that came.
  void beat();
  // Tells the ranks that watch this one that it has finished (no beats after this).
  void say_goodbye();
  // The ranks this one watches: 1..size-1 on rank 0, rank 0 elsewhere.
  const std::vector<int>& watched() const { return watched_; }
  // Watched ranks that have not said goodbye and were last heard from more than `seconds` ago.
  std::vector<int> silent_for(double seconds) const;
  // Seconds since `rank` (a watched one) was last heard from.
  double seconds_since_heard(int rank) const;
  // Whether every watched rank has said goodbye.
  bool all_said_goodbye() const;

 private:
  using Clock = std::chrono::steady_clock;
  void send(const int64_t* word);
  void receive();

  MPI_Comm comm_;
  Clock::duration interval_;
  std::vector<int> watched_;
  std::vector<Clock::time_point> heard_;  // by rank
  std::vector<bool> gone_;                // by rank: said goodbye
  Clock::time_point last_beat_;
  bool said_goodbye_ = false;
  std::vector<MPI_Request> sends_;
};

}  // namespace rt
