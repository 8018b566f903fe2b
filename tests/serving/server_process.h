// A `ringtrain serve` process for the tests, on a loopback port it chooses, its output in a file;
// every wait on it is bounded.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace rt::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A `ringtrain serve` process, its output in a file.
class ServerProcess {
 public:
  ServerProcess(const std::string& checkpoint, const std::vector<std::string>& options, const std::string& log)
      : log_(log) {
    std::vector<std::string> args = {RINGTRAIN_BINARY, "serve", checkpoint, "--host", "127.0.0.1", "--port", "0",
                                     "--threads", "1"};
    args.insert(args.end(), options.begin(), options.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = freopen(log.c_str(), "w", stdout);
      (void)out;
      dup2(fileno(stdout), fileno(stderr));
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Its port, once it says it serves (bounded).
    const std::regex serving("on http://127\\.0\\.0\\.1:([0-9]+)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::smatch match;
    for (;;) {
      std::string text = read_file(log_);
      if (std::regex_search(text, match, serving)) {
        port_ = std::stoi(match[1]);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline || exited()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::string output() const { return read_file(log_); }
  void signal(int number) { kill(pid_, number); }
  // Its exit code once it has exited, within `seconds` (-1: it has not).
  int wait_exit(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (exited()) return exit_code_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  bool exited() {
    if (exit_code_ >= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

}  // namespace rt::testing
