#include "data/shard_prefetcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/base/background_work.h"
#include "core/base/check.h"
#include "core/base/logging.h"

namespace rt {

ShardPrefetcher::ShardPrefetcher(std::vector<ShardInfo> shards, PrefetchOptions options)
    : shards_(std::move(shards)), options_(options), state_(std::make_shared<State>()) {
  RT_CHECK(options_.depth >= 1, "prefetch depth must be at least 1, not {}", options_.depth);
  state_->fetched.resize(shards_.size());
  const size_t threads = std::min(static_cast<size_t>(options_.depth), shards_.size());
  for (size_t t = 0; t < threads; ++t) {
    threads_.emplace_back([this] {
      run_as_background_work();
      run();
    });
  }
}

ShardPrefetcher::~ShardPrefetcher() {
  cancel();
  for (std::thread& thread : threads_) thread.join();
}

void ShardPrefetcher::cancel() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->changed.notify_all();
}

int64_t ShardPrefetcher::peak_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->peak_bytes;
}

bool ShardPrefetcher::stopping() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stopping;
}

int64_t ShardPrefetcher::fetched() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return static_cast<int64_t>(next_take_) +
         std::count_if(state_->fetched.begin() + static_cast<std::ptrdiff_t>(next_take_), state_->fetched.end(),
                       [](const Fetched& f) { return f.done; });
}

std::shared_ptr<ShardImage> ShardPrefetcher::read_file(const std::string& path) const {
  for (int attempt = 0;; ++attempt) {
    std::string problem;
    std::shared_ptr<ShardImage> image;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat status {};
    if (fd < 0 || ::fstat(fd, &status) != 0) {
      problem = fmt::format("cannot open: {}", std::strerror(errno));
    } else {
      image = std::make_shared<ShardImage>(static_cast<size_t>(status.st_size));
      size_t done = 0;
      while (done < image->size()) {
        if (stopping()) break;  // a prefetcher being destroyed (say, ahead of an epoch that never comes)
        const ssize_t got = ::pread(fd, image->data() + done, std::min(options_.read_bytes, image->size() - done),
                                    static_cast<off_t>(done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          problem = got < 0 ? fmt::format("read failed at byte {}: {}", done, std::strerror(errno))
                            : fmt::format("short read: {} of {} bytes", done, image->size());
          break;
        }
        done += static_cast<size_t>(got);
      }
    }
    if (fd >= 0) ::close(fd);
    if (stopping()) return nullptr;
    if (problem.empty()) return image;
    RT_CHECK(attempt < options_.retries.attempts, "shard {}: {} ({} attempt(s))", path, problem, attempt + 1);
    log_warning("shard {}: {}, retrying in {} ms", path, problem, options_.retries.backoff_ms << attempt);
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.retries.backoff_ms << attempt));
  }
}

void ShardPrefetcher::run() {
  State& st = *state_;
  for (;;) {
    size_t index = 0;
    int64_t size = 0;
    {
      // The next shard, once there is room for it: under the depth, and within the budget unless
      // nothing is held.
      std::unique_lock<std::mutex> lock(st.mutex);
      for (;;) {
        if (st.stopping || st.next_fetch >= shards_.size()) return;
        size = shards_[st.next_fetch].file_bytes;
        if (st.held < options_.depth && (st.held == 0 || st.held_bytes + size <= options_.budget_bytes)) break;
        st.changed.wait(lock);
      }
      index = st.next_fetch++;
      ++st.held;
      st.held_bytes += size;
      st.peak_bytes = std::max(st.peak_bytes, st.held_bytes);
    }
    Fetched fetched{true, nullptr, nullptr};
    try {
      fetched.bytes = read_file(shards_[index].path);
    } catch (...) {
      fetched.failure = std::current_exception();
    }
    const int64_t read_size = fetched.bytes ? static_cast<int64_t>(fetched.bytes->size()) : 0;
    {
      std::lock_guard<std::mutex> lock(st.mutex);
      // The size counted is the one the index saw; a file that changed size is counted as read.
      st.held_bytes += read_size - size;
      st.peak_bytes = std::max(st.peak_bytes, st.held_bytes);
      st.fetched[index] = std::move(fetched);
    }
    st.changed.notify_all();
  }
}

void ShardPrefetcher::State::release(int64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    --held;
    held_bytes -= bytes;
  }
  changed.notify_all();
}

std::shared_ptr<const ShardImage> ShardPrefetcher::take(const std::string& path) {
  Fetched fetched;
  {
    RT_CHECK(next_take_ < shards_.size() && shards_[next_take_].path == path,
             "prefetcher: asked for shard {}, but the next one it was given is {}", path,
             next_take_ < shards_.size() ? shards_[next_take_].path : std::string("none"));
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->changed.wait(lock, [&] { return state_->fetched[next_take_].done || state_->stopping; });
    RT_CHECK(!state_->stopping, "prefetch of shard {} was cancelled", path);
    fetched = std::move(state_->fetched[next_take_]);
    ++next_take_;
  }
  const int64_t bytes = fetched.bytes ? static_cast<int64_t>(fetched.bytes->size()) : 0;
  if (fetched.failure) {
    state_->release(bytes);
    std::rethrow_exception(fetched.failure);
  }
  // The shard leaves the budget when its last user lets go of it.
  std::shared_ptr<ShardImage> owned = std::move(fetched.bytes);
  const ShardImage* raw = owned.get();
  return std::shared_ptr<const ShardImage>(
      raw, [state = state_, owned = std::move(owned), bytes](const ShardImage*) mutable {
        owned.reset();
        state->release(bytes);
      });
}

}  // namespace rt
