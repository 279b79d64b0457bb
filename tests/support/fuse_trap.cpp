// A hostile child for the hostile-neighbour tests: it sits in poll() with its poll array in a page
// of a FUSE file that it serves itself, then evicts that page and stops answering reads of it.
// Whoever then reads the array from outside (pread of /proc/PID/mem, process_vm_readv) waits in
// the kernel for a FUSE_READ that is never answered, until this process dies and the kernel
// aborts the FUSE connection. Speaks the raw /dev/fuse protocol; no libfuse. Must run as root.
//
//   fuse_trap [--lifetime SECONDS]    (default 300; 0 = no limit; SIGALRM then ends the process,
//                                      which frees anyone stuck on the trap)
//
// stdout: one line "trapped 0x<address> <pid>" once the trap is armed: the main thread is in
//         poll(<address>, 1, -1) and the page at <address> is not resident.
// stderr: "fuse_trap: unavailable: <reason>" and exit 77 when FUSE cannot be used here;
//         "fuse_trap: error: <reason>" and exit 1 when arming fails.
// Ends, killed by the signal, on SIGTERM/SIGINT/SIGKILL (default actions) or SIGALRM (lifetime);
// exits 0 if the connection is aborted from outside (/sys/fs/fuse/connections/N/abort).
//
// The mount lives in a private mount namespace and is lazily detached (and its directory
// removed) as soon as the file is mapped, so nothing outlives the process.
//
// Reads coming from the trap's own threads are always answered (the request header carries the
// caller's tid): were the trap to block on its own frozen page, e.g. when poll() restarts after
// SIGSTOP/SIGCONT, no thread could exit and close /dev/fuse, and nothing would ever abort the
// connection. A watcher thread re-evicts the page whenever it comes back.
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

namespace {

constexpr uint64_t kRootNode = FUSE_ROOT_ID;  // 1
constexpr uint64_t kTrapNode = 2;             // the single file "trap"
constexpr size_t kPageSize = 4096;            // the file's size; one page
constexpr uint64_t kForever = 86400;          // entry/attr cache lifetime, seconds

int g_fuse = -1;                           // the /dev/fuse connection
unsigned char g_content[kPageSize];        // the file's bytes: one pollfd, then zeros
std::atomic<bool> g_frozen{false};         // once set, foreign FUSE_READs get no answer
std::atomic<pid_t> g_server_tid{0}, g_watcher_tid{0};

[[noreturn]] void die(int code, const char* kind, const char* what) {
  std::fprintf(stderr, "fuse_trap: %s: %s%s%s\n", kind, what, errno ? ": " : "",
               errno ? std::strerror(errno) : "");
  std::_Exit(code);
}

pid_t tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

bool own_thread(uint32_t caller) {
  const auto pid = static_cast<pid_t>(caller);
  return pid != 0 && (pid == getpid() || pid == g_server_tid || pid == g_watcher_tid);
}

// One reply: header plus optional payload, in a single write as the protocol requires.
void reply(uint64_t unique, int error, const void* payload = nullptr, size_t size = 0) {
  fuse_out_header header{};
  header.len = static_cast<uint32_t>(sizeof header + size);
  header.error = error;
  header.unique = unique;
  iovec parts[2] = {{&header, sizeof header}, {const_cast<void*>(payload), size}};
  (void)!writev(g_fuse, parts, size ? 2 : 1);  // fails only if the request was interrupted
}

fuse_attr attributes(uint64_t node) {
  fuse_attr attr{};
  attr.ino = node;
  attr.blksize = kPageSize;
  if (node == kRootNode) {
    attr.mode = S_IFDIR | 0755;
    attr.nlink = 2;
  } else {
    attr.mode = S_IFREG | 0644;
    attr.nlink = 1;
    attr.size = kPageSize;
    attr.blocks = kPageSize / 512;
  }
  return attr;
}

// Answers the kernel until the connection dies; then the process ends too.
void serve() {
  g_server_tid = tid();
  static unsigned char buffer[(1 << 20) + 4096];  // >= FUSE_MIN_READ_BUFFER for any max_write
  for (;;) {
    const ssize_t got = read(g_fuse, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == ENOENT || errno == EAGAIN)) continue;
    if (got < static_cast<ssize_t>(sizeof(fuse_in_header))) {
      std::fprintf(stderr, "fuse_trap: connection ended\n");
      std::_Exit(0);
    }
    fuse_in_header in;
    std::memcpy(&in, buffer, sizeof in);
    const unsigned char* arg = buffer + sizeof in;
    switch (in.opcode) {
      case FUSE_INIT: {
        fuse_init_in init;
        std::memcpy(&init, arg, sizeof init);
        fuse_init_out out{};
        out.major = FUSE_KERNEL_VERSION;
        out.minor = init.minor < FUSE_KERNEL_MINOR_VERSION ? init.minor : FUSE_KERNEL_MINOR_VERSION;
        out.max_readahead = init.max_readahead;
        out.max_write = 128 * 1024;
        out.flags = 0;  // synchronous reads, no writeback cache, nothing clever
        reply(in.unique, 0, &out, sizeof out);
        break;
      }
      case FUSE_LOOKUP: {
        if (in.nodeid != kRootNode || std::strcmp(reinterpret_cast<const char*>(arg), "trap")) {
          reply(in.unique, -ENOENT);
          break;
        }
        fuse_entry_out out{};
        out.nodeid = kTrapNode;
        out.entry_valid = out.attr_valid = kForever;
        out.attr = attributes(kTrapNode);
        reply(in.unique, 0, &out, sizeof out);
        break;
      }
      case FUSE_GETATTR: {
        if (in.nodeid != kRootNode && in.nodeid != kTrapNode) {
          reply(in.unique, -ENOENT);
          break;
        }
        fuse_attr_out out{};
        out.attr_valid = kForever;
        out.attr = attributes(in.nodeid);
        reply(in.unique, 0, &out, sizeof out);
        break;
      }
      case FUSE_OPEN: {
        // No FOPEN_DIRECT_IO: the page cache, hence mmap, must work. FOPEN_NOFLUSH: when we are
        // killed, the last exiting thread closes the file before the kernel releases /dev/fuse;
        // a FUSE_FLUSH then would wait for an answer forever and the process would never die.
        fuse_open_out out{};
        out.open_flags = FOPEN_NOFLUSH;
        reply(in.unique, 0, &out, sizeof out);
        break;
      }
      case FUSE_READ: {
        // The trap itself: a frozen page is never delivered to anyone but ourselves.
        if (g_frozen && !own_thread(in.pid)) break;
        fuse_read_in request;
        std::memcpy(&request, arg, sizeof request);
        const size_t offset = request.offset < kPageSize ? request.offset : kPageSize;
        const size_t size = request.size < kPageSize - offset ? request.size : kPageSize - offset;
        reply(in.unique, 0, g_content + offset, size);
        break;
      }
      case FUSE_FLUSH:  // not expected given FOPEN_NOFLUSH; -ENOSYS turns flushes off for good
        reply(in.unique, -ENOSYS);
        break;
      case FUSE_RELEASE:
      case FUSE_RELEASEDIR:
        reply(in.unique, 0);
        break;
      case FUSE_FORGET:
      case FUSE_BATCH_FORGET:
      case FUSE_INTERRUPT:  // the interrupted request simply stays unanswered
        break;
      default:
        reply(in.unique, -ENOSYS);
    }
  }
}

// Sleeps for the given number of milliseconds.
void nap(long ms) {
  const timespec duration{ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&duration, nullptr);
}

// Reads a small /proc file of the main thread into text, NUL-terminated. Raw I/O into the
// caller's stack: no malloc, hence no mmap_lock writer queued behind a stuck reader of our memory.
bool read_main(const char* name, char* text, size_t size) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/%s", static_cast<int>(getpid()), name);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t got = read(fd, text, size - 1);
  close(fd);
  text[got > 0 ? got : 0] = '\0';
  return got > 0;
}

// Whether the main thread is in poll()/ppoll() (per /proc/.../syscall: not "running", not another
// syscall), and how often it has been switched out so far. A thread still waiting for the page
// fault of poll()'s copy-in also shows as in poll(); an unchanged count across a pause tells them
// apart.
struct MainState {
  bool in_poll = false;
  long switches = -1;
};

MainState main_state() {
  char text[4096];
  MainState state;
  if (read_main("syscall", text, sizeof text) && text[0] >= '0' && text[0] <= '9') {
    const long number = std::strtol(text, nullptr, 10);
#ifdef SYS_poll
    state.in_poll = number == SYS_poll;
#endif
    state.in_poll = state.in_poll || number == SYS_ppoll;
  }
  if (read_main("status", text, sizeof text)) {
    state.switches = 0;
    for (const char* key : {"\nvoluntary_ctxt_switches:", "\nnonvoluntary_ctxt_switches:"})
      if (const char* at = std::strstr(text, key))
        state.switches += std::strtol(at + std::strlen(key), nullptr, 10);
  }
  return state;
}

bool resident(void* page) {
  unsigned char present = 0;
  return mincore(page, kPageSize, &present) == 0 && (present & 1);
}

// Drops the page from our page tables and from the page cache. Both steps skip a page that is
// locked for an in-flight read (FUSE_NOTIFY_INVAL_INODE would instead wait on it, forever).
void evict(void* page, int file) {
  madvise(page, kPageSize, MADV_DONTNEED);
  posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED);
}

// Arms the trap once the main thread sleeps in poll(), reports it, and keeps it armed: should
// the page come back (poll() restarted after SIGSTOP/SIGCONT, say), it is evicted again.
void watch(void* page, int file) {
  g_watcher_tid = tid();
  bool announced = false;
  for (int rounds = 0;; nap(50)) {
    const MainState before = main_state();
    if (before.in_poll) {
      g_frozen = true;
      if (resident(page)) evict(page, file);
    }
    if (announced) continue;
    nap(20);
    const MainState after = main_state();
    if (before.in_poll && after.in_poll && before.switches >= 0 &&
        after.switches == before.switches && !resident(page)) {
      char line[64];
      const int length = std::snprintf(line, sizeof line, "trapped %p %d\n", page,
                                       static_cast<int>(getpid()));
      (void)!write(STDOUT_FILENO, line, static_cast<size_t>(length));
      announced = true;
    } else if (++rounds > 100) {
      errno = 0;
      die(1, "error", "poll() never settled on an evicted page");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned lifetime = 300;
  if (argc == 3 && std::strcmp(argv[1], "--lifetime") == 0)
    lifetime = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  else if (argc != 1)
    return std::fprintf(stderr, "usage: fuse_trap [--lifetime SECONDS]\n"), 2;
  for (int sig : {SIGTERM, SIGINT, SIGALRM}) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  alarm(lifetime);

  errno = 0;
  if (geteuid() != 0) die(77, "unavailable", "not root");
  // A private mount namespace: the mount is invisible elsewhere and dies with us.
  if (unshare(CLONE_NEWNS) == -1) die(77, "unavailable", "unshare(CLONE_NEWNS)");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == -1)
    die(77, "unavailable", "making / private");
  g_fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (g_fuse < 0) die(77, "unavailable", "/dev/fuse");

  // The poll array: one entry waiting for input on a pipe nobody ever writes to.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) == -1) die(1, "error", "pipe2");
  const pollfd entry{pipe_fds[0], POLLIN, 0};
  std::memcpy(g_content, &entry, sizeof entry);

  char dir[] = "/tmp/fuse_trap.XXXXXX";
  if (!mkdtemp(dir)) die(1, "error", "mkdtemp");
  char options[128];
  std::snprintf(options, sizeof options,
                "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", g_fuse);
  if (mount("fuse_trap", dir, "fuse", MS_NOSUID | MS_NODEV, options) == -1) {
    const int saved = errno;
    rmdir(dir);
    errno = saved;
    die(77, "unavailable", "mounting fuse");
  }
  std::thread(serve).detach();

  char path[sizeof dir + 8];
  std::snprintf(path, sizeof path, "%s/trap", dir);
  const int file = open(path, O_RDONLY | O_CLOEXEC);
  const int open_errno = errno;
  void* page = file < 0 ? MAP_FAILED : mmap(nullptr, kPageSize, PROT_READ, MAP_SHARED, file, 0);
  const int mmap_errno = errno;
  // The open file and the mapping keep the file system alive; its name can go right away.
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  if (file < 0) errno = open_errno, die(1, "error", "opening the trap file");
  if (page == MAP_FAILED) errno = mmap_errno, die(1, "error", "mmap");

  // poll() copies the array in at entry, through an answered FUSE_READ; once it is blocked the
  // watcher evicts the page, so the next reader faults into a FUSE_READ nobody answers.
  std::thread(watch, page, file).detach();
  for (;;) poll(static_cast<pollfd*>(page), 1, -1);
}
