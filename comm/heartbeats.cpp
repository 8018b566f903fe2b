#include "comm/heartbeats.h"

#include <algorithm>
#include <thread>

namespace rt {
namespace {

constexpr int kHeartbeatTag = 7303;  // beside the watchdog's report tags
const int64_t kBeat = 1;
const int64_t kGoodbye = 0;

}  // namespace

Heartbeats::Heartbeats(MPI_Comm comm, double interval_seconds)
    : comm_(comm),
      interval_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_seconds))),
      last_beat_(Clock::now() - interval_) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm_, &rank);
  MPI_Comm_size(comm_, &size);
  if (rank == 0) {
    for (int r = 1; r < size; ++r) watched_.push_back(r);
  } else {
    watched_.push_back(0);
  }
  // Every rank starts watching as its watchdog starts, moments after the collectives that every
  // rank leaves together: none is silent from the start.
  heard_.assign(static_cast<size_t>(size), Clock::now());
  gone_.assign(static_cast<size_t>(size), false);
}

Heartbeats::~Heartbeats() {
  // Beats are a word each, sent eagerly: they complete at once unless a link is gone.
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  while (!sends_.empty() && Clock::now() < deadline) {
    receive();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (MPI_Request& request : sends_) MPI_Request_free(&request);
  receive();
}

void Heartbeats::send(const int64_t* word) {
  // Beats go to the ranks that watch this one: the same set as those it watches.
  for (int rank : watched_) {
    MPI_Request request = MPI_REQUEST_NULL;
    if (MPI_Isend(word, 1, MPI_INT64_T, rank, kHeartbeatTag, comm_, &request) == MPI_SUCCESS) {
      sends_.push_back(request);
    }
  }
}

void Heartbeats::receive() {
  for (;;) {
    int arrived = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kHeartbeatTag, comm_, &arrived, &status) != MPI_SUCCESS || !arrived) break;
    int64_t word = 0;
    MPI_Recv(&word, 1, MPI_INT64_T, status.MPI_SOURCE, kHeartbeatTag, comm_, MPI_STATUS_IGNORE);
    const auto source = static_cast<size_t>(status.MPI_SOURCE);
    heard_[source] = Clock::now();
    if (word == kGoodbye) gone_[source] = true;
  }
  // Forget the sends that have completed.
  sends_.erase(std::remove_if(sends_.begin(), sends_.end(),
                              [](MPI_Request& request) {
                                int done = 0;
                                MPI_Test(&request, &done, MPI_STATUS_IGNORE);
                                return done != 0;
                              }),
               sends_.end());
}

void Heartbeats::beat() {
  const auto now = Clock::now();
  if (!said_goodbye_ && now - last_beat_ >= interval_) {
    last_beat_ = now;
    send(&kBeat);
  }
  receive();
}

void Heartbeats::say_goodbye() {
  if (said_goodbye_) return;
  said_goodbye_ = true;
  send(&kGoodbye);
  receive();
}

std::vector<int> Heartbeats::silent_for(double seconds) const {
  std::vector<int> silent;
  for (int rank : watched_) {
    if (!gone_[static_cast<size_t>(rank)] && seconds_since_heard(rank) > seconds) silent.push_back(rank);
  }
  return silent;
}

double Heartbeats::seconds_since_heard(int rank) const {
  return std::chrono::duration<double>(Clock::now() - heard_[static_cast<size_t>(rank)]).count();
}

bool Heartbeats::all_said_goodbye() const {
  return std::all_of(watched_.begin(), watched_.end(), [this](int rank) { return gone_[static_cast<size_t>(rank)]; });
}

}  // namespace rt
