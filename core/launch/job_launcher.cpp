#include "core/launch/job_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/base/check.h"
#include "core/base/logging.h"

namespace rt {

namespace {

// The job's mpirun while it runs. A first SIGTERM or SIGINT to the launcher goes on to it as
// SIGUSR1, which mpirun relays to the ranks and then waits for them (they checkpoint and stop,
// exiting 143); a SIGTERM itself would have mpirun end them soon after relaying it. A second
// signal goes on as it is. No new attempt starts after one.
volatile sig_atomic_t running_job = 0;
volatile sig_atomic_t signalled = 0;

void forward_signal(int signal_number) {
  const bool first = signalled == 0;
  signalled = signal_number;
  if (running_job > 0) kill(static_cast<pid_t>(running_job), first ? SIGUSR1 : signal_number);
}

// The last lines of an attempt's output, enough to find what its failure named.
constexpr size_t kTailLines = 2000;
// Seconds mpirun has to exit once the job shows it is ending (an abort, a rank's error).
constexpr double kEndingSeconds = 15;

// A line that shows the job ending: MPI_Abort, or a rank's error (every error ends the job).
bool job_is_ending(const std::string& line) {
  return line.find("MPI_ABORT was invoked") != std::string::npos || line.find("] error: ") != std::string::npos;
}

struct Attempt {
  int exit_code = 0;
  std::vector<std::string> tail;
};

// Runs `argv` with its output passed through to ours, line by line, and kept for a look after.
Attempt run_attempt(const std::vector<std::string>& argv, int attempt) {
  int pipe_ends[2];
  RT_CHECK(pipe(pipe_ends) == 0, "cannot make a pipe for the job's output");
  const pid_t pid = fork();
  RT_CHECK(pid >= 0, "cannot start {}", argv[0]);
  if (pid == 0) {
    dup2(pipe_ends[1], STDOUT_FILENO);
    dup2(pipe_ends[1], STDERR_FILENO);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
    setenv("RINGTRAIN_LAUNCH_ATTEMPT", std::to_string(attempt).c_str(), 1);
    std::vector<char*> args;
    for (const std::string& word : argv) args.push_back(const_cast<char*>(word.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "ringtrain launch: cannot run %s\n", args[0]);
    _exit(127);
  }
  running_job = pid;
  close(pipe_ends[1]);
  fcntl(pipe_ends[0], F_SETFL, fcntl(pipe_ends[0], F_GETFL) | O_NONBLOCK);
  Attempt result;
  std::deque<std::string> tail;
  std::string partial;
  char buffer[1 << 16];
  // Where a host is lost, Open MPI's mpirun can wait for ever once the job has aborted (for the
  // lost daemon): from the first sign of the job ending, it has kEndingSeconds to exit.
  std::optional<std::chrono::steady_clock::time_point> ending;
  int stop_signals = 0;
  int status = 0;
  bool exited = false;
  // Passes on what has come, line by line.
  const auto drain = [&] {
    for (;;) {
      const ssize_t got = read(pipe_ends[0], buffer, sizeof(buffer));
      if (got <= 0) return;
      std::fwrite(buffer, 1, static_cast<size_t>(got), stdout);
      std::fflush(stdout);
      partial.append(buffer, static_cast<size_t>(got));
      size_t start = 0;
      for (size_t newline; (newline = partial.find('\n', start)) != std::string::npos; start = newline + 1) {
        tail.push_back(partial.substr(start, newline - start));
        if (!ending && job_is_ending(tail.back())) ending = std::chrono::steady_clock::now();
        if (tail.size() > kTailLines) tail.pop_front();
      }
      partial.erase(0, start);
    }
  };
  while (!exited) {
    pollfd readable{pipe_ends[0], POLLIN, 0};
    poll(&readable, 1, 200);
    drain();
    // Its own output pipe may stay open in processes it leaves behind: its exit ends the attempt.
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited && ending) {
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - *ending).count();
      if (stop_signals == 0 && waited > kEndingSeconds) {
        log_warning("launch: {} has not exited {:.0f} s after the job began to end; stopping it", argv[0], waited);
        kill(pid, SIGTERM);
        stop_signals = 1;
      } else if (stop_signals == 1 && waited > kEndingSeconds + 5) {
        kill(pid, SIGKILL);
        stop_signals = 2;
      }
    }
  }
  drain();
  if (!partial.empty()) tail.push_back(partial);
  close(pipe_ends[0]);
  running_job = 0;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.tail.assign(tail.begin(), tail.end());
  return result;
}

// Whether `named` (from a host's own name) is the hostfile's `host` (a name, possibly qualified).
bool same_host(const std::string& named, const std::string& host) {
  const auto short_name = [](const std::string& name) { return name.substr(0, name.find('.')); };
  return named == host || short_name(named) == short_name(host);
}

std::vector<std::string> names_of(const std::vector<HostSlots>& hosts) {
  std::vector<std::string> names;
  for (const HostSlots& host : hosts) names.push_back(host.host);
  return names;
}

std::string write_hostfile(const std::vector<HostSlots>& hosts, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  for (const HostSlots& host : hosts) out << host.host << " slots=" << host.slots << "\n";
  RT_CHECK(out.good(), "cannot write the hostfile {}", path);
  return path;
}

}  // namespace

std::vector<HostSlots> read_hostfile(const std::string& path) {
  std::ifstream in(path);
  RT_CHECK(in, "cannot read the hostfile {}", path);
  std::vector<HostSlots> hosts;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    HostSlots host;
    if (!(words >> host.host)) continue;
    for (std::string word; words >> word;) {
      std::smatch slots;
      if (std::regex_match(word, slots, std::regex("slots=([0-9]+)"))) {
        host.slots = std::stoi(slots[1].str());
      } else if (!std::regex_match(word, std::regex("max[-_]slots=[0-9]+"))) {
        RT_FAIL("{}:{}: \"{}\" is not slots=N", path, number, word);
      }
    }
    RT_CHECK(host.slots > 0, "{}:{}: a host needs at least one slot", path, number);
    hosts.push_back(host);
  }
  RT_CHECK(!hosts.empty(), "the hostfile {} names no host", path);
  return hosts;
}

std::vector<std::string> lost_hosts(const std::vector<std::string>& output_lines) {
  static const std::regex named_by_watchdog(
      "on host\\(s\\) (.+?)(?: gave no sign of life| did not arrive|;)");
  static const std::regex rank0_silent("rank 0 on host (\\S+) does not answer");
  static const std::regex named_by_open_mpi("Remote daemon: *\\[\\[[0-9]+,[0-9]+\\],[0-9]+\\] on node (\\S+)");
  std::vector<std::string> hosts;
  const auto add = [&hosts](const std::string& host) {
    if (!host.empty() && std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
  };
  for (const std::string& line : output_lines) {
    std::smatch match;
    if (std::regex_search(line, match, named_by_watchdog)) {
      std::istringstream list(match[1].str());
      for (std::string host; std::getline(list, host, ',');) {
        host.erase(0, host.find_first_not_of(' '));
        add(host);
      }
    } else if (std::regex_search(line, match, rank0_silent) || std::regex_search(line, match, named_by_open_mpi)) {
      add(match[1].str());
    }
  }
  return hosts;
}

bool preempted(const std::vector<std::string>& output_lines) {
  return std::any_of(output_lines.begin(), output_lines.end(), [](const std::string& line) {
    return line.find("exiting with code 143 (preempted") != std::string::npos;
  });
}

std::vector<std::string> resuming(const std::vector<std::string>& command) {
  std::vector<std::string> result;
  for (size_t i = 0; i < command.size(); ++i) {
    if (command[i] == "--resume") {
      ++i;  // and its value
      continue;
    }
    if (command[i].rfind("--resume=", 0) == 0) continue;
    result.push_back(command[i]);
  }
  result.push_back("--resume");
  result.push_back("auto");
  return result;
}

int launch_job(const LaunchOptions& options) {
  RT_CHECK(!options.command.empty(), "launch needs the job's command after --");
  std::vector<HostSlots> hosts;
  if (!options.hostfile.empty()) hosts = read_hostfile(options.hostfile);
  char hostfile_template[] = "/tmp/ringtrain-launch-hosts-XXXXXX";
  const int hostfile_fd = options.hostfile.empty() ? -1 : mkstemp(hostfile_template);
  RT_CHECK(options.hostfile.empty() || hostfile_fd >= 0, "cannot make a hostfile in /tmp");
  if (hostfile_fd >= 0) close(hostfile_fd);
  struct sigaction action = {};
  action.sa_handler = forward_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  int exit_code = 1;
  const int attempts = options.max_restarts + 1;
  for (int attempt = 1; attempt <= attempts && !signalled; ++attempt) {
    std::vector<std::string> argv{options.mpirun};
    int ranks = options.ranks;
    if (!hosts.empty()) {
      ranks = 0;
      for (const HostSlots& host : hosts) ranks += host.slots;
      argv.insert(argv.end(), {"--hostfile", write_hostfile(hosts, hostfile_template)});
    }
    argv.insert(argv.end(), {"-np", std::to_string(ranks)});
    argv.insert(argv.end(), options.mpirun_args.begin(), options.mpirun_args.end());
    const std::vector<std::string> command = attempt == 1 ? options.command : resuming(options.command);
    argv.insert(argv.end(), command.begin(), command.end());
    log_info("launch: attempt {} of {}, {} rank(s){}: {}", attempt, attempts, ranks,
             hosts.empty() ? std::string() : fmt::format(" on {}", fmt::join(names_of(hosts), ", ")),
             fmt::join(argv, " "));
    const Attempt result = run_attempt(argv, attempt);
    exit_code = result.exit_code;
    if (exit_code == 0) break;
    if (preempted(result.tail)) {
      log_info("launch: the job was preempted and left its checkpoint; exiting with code 143");
      exit_code = 143;
      break;
    }
    if (signalled) break;
    std::vector<std::string> left_out;
    for (const std::string& lost : lost_hosts(result.tail)) {
      auto found = std::find_if(hosts.begin(), hosts.end(), [&](const HostSlots& h) { return same_host(lost, h.host); });
      if (found != hosts.end()) {
        left_out.push_back(found->host);
        hosts.erase(found);
      }
    }
    if (!options.hostfile.empty() && hosts.empty()) {
      log_error("launch: attempt {} failed (exit code {}) and every host is lost; giving up", attempt, exit_code);
      break;
    }
    if (attempt < attempts) {
      log_warning("launch: attempt {} failed (exit code {}){}; restarting from the newest checkpoint", attempt,
                  exit_code, left_out.empty() ? std::string()
                                              : fmt::format(", leaving out the lost host(s) {}", fmt::join(left_out, ", ")));
    } else {
      log_error("launch: attempt {} failed (exit code {}); no restarts left (--max-restarts {})", attempt, exit_code,
                options.max_restarts);
    }
  }
  if (hostfile_fd >= 0) unlink(hostfile_template);
  return exit_code;
}

}  // namespace rt
