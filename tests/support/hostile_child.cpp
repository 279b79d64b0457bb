// A malicious child of reuserun, for the hostile tests (tests/integration/hostile_test.cpp): it is
// started as the server and attacks the supervisor through what the readiness gate reads about it.
//
//   hostile_child wide-select N   N processes (itself and N-1 children), each with a thread
//                                 blocked in select(65536, ...) whose read set, once the kernel
//                                 has copied it, is filled with ones: /proc then shows a wait on
//                                 65536 fds. The inherited listener is closed first, so none of
//                                 them ever waits on it (issue 25, finding 3).
//
// Then waits to be signalled.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr long kSelectFds = 65536;

// True once thread `tid` of this process is blocked in syscall `number`, within 5 s.
bool blocked_in(pid_t tid, long number) {
  const std::string file = "/proc/self/task/" + std::to_string(tid) + "/syscall";
  for (int i = 0; i < 500; ++i) {
    long seen = -1;
    std::ifstream(file) >> seen;
    if (seen == number) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// One process's wide select: returns only if setting it up failed.
void wide_select() {
  ::close(3);  // the listener: nothing here ever waits on it
  int quiet[2];
  if (::pipe(quiet) == -1) return;  // never written: the select never returns
  std::vector<unsigned long> set(kSelectFds / (8 * sizeof(unsigned long)));
  set[static_cast<std::size_t>(quiet[0]) / (8 * sizeof(unsigned long))] |=
      1UL << (static_cast<unsigned>(quiet[0]) % (8 * sizeof(unsigned long)));
  pid_t tid = 0;
  std::thread waiter([&] {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    ::syscall(SYS_pselect6, kSelectFds, set.data(), nullptr, nullptr, nullptr, nullptr);
  });
  waiter.detach();
  while (tid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!blocked_in(tid, SYS_pselect6)) return;
  std::memset(set.data(), 0xff, set.size() * sizeof(unsigned long));  // what /proc now shows
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "wide-select") == 0) {
    const int count = std::atoi(argv[2]);
    for (int i = 1; i < count; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        wide_select();
        return 1;
      }
    }
    wide_select();
    return 1;
  }
  std::fprintf(stderr, "usage: hostile_child wide-select N\n");
  return 2;
}
