// A point-to-point wire with a bandwidth and a one-way delay between two network namespaces, for
// measuring on one machine what per-message latency does to collectives (this kernel has no netem
// qdisc). Each end is a TUN device that already exists, addressed, in its namespace
// (scripts/netns-hosts.sh wire); this program moves every IP packet from one end to the other as a
// link would: it is serialised at RATE after the packets before it, then arrives DELAY later.
// Packets wait in a bounded queue; when it is full the reader stops and the kernel's queue of the
// device drops, as a switch with full buffers would.
//
// Usage: delay_wire NETNS_A DEVICE_A NETNS_B DEVICE_B DELAY_US RATE_MBIT
// Runs until killed. Needs root (setns, TUN). Linux only.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kMaxPacket = 65536;
constexpr size_t kQueuePackets = 512;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void sleep_until_ns(int64_t deadline) {
  timespec ts{static_cast<time_t>(deadline / 1000000000), static_cast<long>(deadline % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Opens the existing TUN device `device` of the network namespace `netns` (its name under
// /var/run/netns); the descriptor keeps working once this thread returns to its own namespace.
int open_tun_in(const std::string& netns, const std::string& device) {
  int own = open("/proc/self/ns/net", O_RDONLY);
  int target = open(("/var/run/netns/" + netns).c_str(), O_RDONLY);
  if (own < 0 || target < 0) fail("opening the network namespace " + netns);
  if (setns(target, CLONE_NEWNET) != 0) fail("entering the network namespace " + netns);
  int fd = open("/dev/net/tun", O_RDWR);
  if (fd < 0) fail("opening /dev/net/tun");
  ifreq request{};
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::snprintf(request.ifr_name, IFNAMSIZ, "%s", device.c_str());
  if (ioctl(fd, TUNSETIFF, &request) != 0) fail("attaching to the TUN device " + device + " in " + netns);
  if (setns(own, CLONE_NEWNET) != 0) fail("returning to the own network namespace");
  close(own);
  close(target);
  return fd;
}

// One direction of the wire: a reader that stamps each packet with the time it arrives at the far
// end, and a writer that hands it over then.
class Direction {
 public:
  Direction(int from, int to, int64_t delay_ns, double ns_per_byte)
      : from_(from), to_(to), delay_ns_(delay_ns), ns_per_byte_(ns_per_byte), slots_(kQueuePackets) {
    for (auto& slot : slots_) slot.bytes.resize(kMaxPacket);
  }

  void read_forever() {
    int64_t wire_free_at = 0;  // when the packets already read have all been serialised
    for (;;) {
      Slot* slot = free_slot();
      ssize_t length = read(from_, slot->bytes.data(), kMaxPacket);
      if (length < 0) {
        if (errno == EINTR) continue;
        fail("reading a packet");
      }
      int64_t sent = std::max(now_ns(), wire_free_at);
      wire_free_at = sent + static_cast<int64_t>(static_cast<double>(length) * ns_per_byte_);
      slot->length = static_cast<size_t>(length);
      slot->arrives_at = wire_free_at + delay_ns_;
      publish();
    }
  }

  void write_forever() {
    prctl(PR_SET_TIMERSLACK, 1UL);  // wake within microseconds of a packet's arrival time
    for (;;) {
      Slot* slot = next_packet();
      if (slot->arrives_at > now_ns()) sleep_until_ns(slot->arrives_at);
      // A write that fails (the far end down) loses the packet, as a link would.
      if (write(to_, slot->bytes.data(), slot->length) < 0 && errno != EIO && errno != EAGAIN) {
        fail("writing a packet");
      }
      release();
    }
  }

 private:
  struct Slot {
    std::vector<char> bytes;
    size_t length = 0;
    int64_t arrives_at = 0;
  };

  Slot* free_slot() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return queued_ < slots_.size(); });
    return &slots_[(head_ + queued_) % slots_.size()];
  }
  void publish() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++queued_;
    changed_.notify_all();
  }
  Slot* next_packet() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return queued_ > 0; });
    return &slots_[head_];
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    head_ = (head_ + 1) % slots_.size();
    --queued_;
    changed_.notify_all();
  }

  int from_, to_;
  int64_t delay_ns_;
  double ns_per_byte_;
  std::vector<Slot> slots_;
  size_t head_ = 0, queued_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
};

// A thread's failure ends the program: a wire that loses one direction is no wire.
template <typename Body>
std::thread thread_or_exit(Body body) {
  return std::thread([body] {
    try {
      body();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "delay_wire: %s\n", error.what());
      std::_Exit(1);
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s NETNS_A DEVICE_A NETNS_B DEVICE_B DELAY_US RATE_MBIT\n", argv[0]);
    return 2;
  }
  try {
    const double delay_us = std::stod(argv[5]);
    const double rate_mbit = std::stod(argv[6]);
    if (delay_us < 0 || rate_mbit <= 0) throw std::invalid_argument("DELAY_US must be >= 0 and RATE_MBIT > 0");
    int a = open_tun_in(argv[1], argv[2]);
    int b = open_tun_in(argv[3], argv[4]);
    const auto delay_ns = static_cast<int64_t>(delay_us * 1000);
    const double ns_per_byte = 8e3 / rate_mbit;
    Direction a_to_b(a, b, delay_ns, ns_per_byte), b_to_a(b, a, delay_ns, ns_per_byte);
    std::array<std::thread, 4> threads{
        thread_or_exit([&] { a_to_b.read_forever(); }), thread_or_exit([&] { a_to_b.write_forever(); }),
        thread_or_exit([&] { b_to_a.read_forever(); }), thread_or_exit([&] { b_to_a.write_forever(); })};
    for (auto& thread : threads) thread.join();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "delay_wire: %s\n", error.what());
    return 1;
  }
}
