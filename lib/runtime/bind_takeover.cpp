#include "bind_takeover.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <boost/asio/post.hpp>
#include <cstring>

#include "foreign_helper.hpp"
#include "log.hpp"
#include "procfs.hpp"
#include "scm_rights.hpp"
#include "socket_waiters.hpp"
#include "text.hpp"

namespace reuserun {

namespace {

// The kernel's sizes of the notification structures, which may outgrow the headers'.
struct NotifSizes {
  std::size_t notif = sizeof(seccomp_notif);
  std::size_t resp = sizeof(seccomp_notif_resp);
};

const NotifSizes& notif_sizes() {
  static const NotifSizes sizes = [] {
    NotifSizes result;
    seccomp_notif_sizes kernel{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &kernel) == 0) {
      result.notif = std::max<std::size_t>(result.notif, kernel.seccomp_notif);
      result.resp = std::max<std::size_t>(result.resp, kernel.seccomp_notif_resp);
    }
    return result;
  }();
  return sizes;
}

std::optional<TrappedCall> receive_call(int notifications) {
  std::vector<char> buffer(notif_sizes().notif, 0);  // RECV wants it zeroed
  if (::ioctl(notifications, SECCOMP_IOCTL_NOTIF_RECV, buffer.data()) == -1) return std::nullopt;
  seccomp_notif notif{};
  std::memcpy(&notif, buffer.data(), sizeof notif);
  TrappedCall call;
  call.id = notif.id;
  call.tid = static_cast<pid_t>(notif.pid);
  call.bind = notif.data.nr == __NR_bind;
  for (std::size_t i = 0; i < 3; ++i) call.args[i] = notif.data.args[i];
  return call;
}

// How a trapped call ends.
struct Response {
  enum class Kind { run, value, error } kind = Kind::run;
  int value = 0;  // errno for error
};

void respond(int notifications, std::uint64_t id, Response response) {
  std::vector<char> buffer(notif_sizes().resp, 0);
  seccomp_notif_resp resp{};
  resp.id = id;
  if (response.kind == Response::Kind::run) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  if (response.kind == Response::Kind::error) resp.error = -response.value;
  std::memcpy(buffer.data(), &resp, sizeof resp);
  (void)::ioctl(notifications, SECCOMP_IOCTL_NOTIF_SEND, buffer.data());  // ENOENT: it is gone
}

bool still_waiting(int notifications, std::uint64_t id) {
  return ::ioctl(notifications, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

// What fd `number` of the trapped thread is, looked at by the socket helper (the loop never
// holds a child's file: every close() of a FUSE file flushes it, and the flush waits for the
// child's own server). Taken while the call still waits, so the pid is that thread's process
// and no other's; nullopt for a thread with an fd table of its own (unshare(CLONE_FILES)),
// whose fd `number` is not the one pidfd_getfd would see.
std::optional<SocketFacts> child_socket(int notifications, const TrappedCall& call,
                                        std::uint64_t number) {
  if (number > static_cast<std::uint64_t>(INT32_MAX)) return std::nullopt;
  const pid_t process = thread_group_of(call.tid);
  if (process <= 0) return std::nullopt;
  if (process != call.tid && ::syscall(SYS_kcmp, process, call.tid, KCMP_FILES, 0, 0) != 0)
    return std::nullopt;
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, process, 0)));
  if (!pidfd || !still_waiting(notifications, call.id)) return std::nullopt;
  return socket_helper().inspect_socket(pidfd.get(), call.tid, static_cast<int>(number));
}

// True while fd `number` of the thread is still the socket that was looked at: the file
// SETFD replaces is closed by the child while reuserun waits, and a FUSE file's close waits
// for its server. readlink() of the fd's link touches no file.
bool still_that_socket(pid_t tid, std::uint64_t number, std::uint64_t inode) {
  const std::string link = kProcRoot + "/" + std::to_string(tid) + "/fd/" + std::to_string(number);
  char target[64] = {};
  const ssize_t got = ::readlink(link.c_str(), target, sizeof target - 1);
  return got > 0 && socket_inode_of_link(std::string_view(
                        target, static_cast<std::size_t>(got))) == inode;
}

}  // namespace

void TakeoverChannels::attach(WorkerKey worker, UniqueFd notifications, std::string bound) {
  Channel channel;
  channel.bound = std::move(bound);
  channel.stream =
      std::make_unique<boost::asio::posix::stream_descriptor>(io_, notifications.release());
  channels_[worker] = std::move(channel);
  wait(worker);
}

void TakeoverChannels::forget(WorkerKey worker) { channels_.erase(worker); }

int TakeoverChannels::fd(WorkerKey worker) const {
  const auto it = channels_.find(worker);
  return it == channels_.end() ? -1 : it->second.stream->native_handle();
}

std::string TakeoverChannels::bound_itself(WorkerKey worker) const {
  const auto it = channels_.find(worker);
  return it == channels_.end() ? "" : it->second.bound;
}

void TakeoverChannels::wait(WorkerKey worker) {
  const auto it = channels_.find(worker);
  if (it == channels_.end()) return;
  it->second.stream->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                [this, worker](boost::system::error_code error) {
                                  if (!error) on_readable(worker);
                                });
}

void TakeoverChannels::on_readable(WorkerKey worker) {
  // A few calls per turn of the loop: a tree that binds in a tight loop shares it with the rest.
  constexpr int kCallsPerTurn = 16;
  for (int n = 0; n < kCallsPerTurn; ++n) {
    const auto it = channels_.find(worker);
    if (it == channels_.end()) return;
    const int fd = it->second.stream->native_handle();
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 0) <= 0) return wait(worker);
    if ((ready.revents & POLLIN) == 0) return;  // POLLHUP: no process uses the filter any more
    const auto call = receive_call(fd);
    if (!call) continue;  // ENOENT: the caller died in the meantime
    answer(fd, worker, it->second, *call);
  }
  // Calls still waiting bring no new edge from the reactor: the rest after whatever else is
  // ready (signals, timers, `ctl`) has had its turn.
  boost::asio::post(io_, [this, worker] { on_readable(worker); });
}

void TakeoverChannels::answer(int fd, WorkerKey worker, Channel& channel, const TrappedCall& call) {
  if (call.bind)
    on_bind(fd, worker, channel, call);
  else
    on_listen(fd, channel, call);
}

void TakeoverChannels::on_bind(int fd, WorkerKey worker, Channel& channel,
                               const TrappedCall& call) {
  const auto run = [&] { respond(fd, call.id, {}); };
  const std::uint64_t length = call.args[2];
  if (length < sizeof(sa_family_t) || length > sizeof(sockaddr_storage)) return run();
  // The sockaddr, through the helper (never a fault on this thread), at most 128 bytes.
  sockaddr_storage bytes{};
  const UniqueFd mem(::open((kProcRoot + "/" + std::to_string(call.tid) + "/mem").c_str(),
                            O_RDONLY | O_CLOEXEC));
  if (!mem || memory_helper().read(call.tid, mem.get(), call.args[1], &bytes,
                                   static_cast<std::size_t>(length)) != MemoryReader::Read::done)
    return run();
  if (!still_waiting(fd, call.id)) return;
  const auto wanted = parse_bind_address(&bytes, static_cast<std::size_t>(length));
  if (!wanted) return run();
  const std::vector<HeldSocket> held = hooks_.held();
  const bool any = std::any_of(held.begin(), held.end(), [&](const HeldSocket& socket) {
    return wanted->family == AF_UNIX ? socket.path == wanted->path && !wanted->path.empty()
                                     : is_inet(socket.kind) && wanted->inet.port() != 0 &&
                                           socket.address.port() == wanted->inet.port();
  });
  if (!any) return run();  // another port, port 0, a client's bind: untouched

  const auto socket = child_socket(fd, call, call.args[0]);
  if (!socket) return run();
  BindVerdict verdict = decide_bind(*wanted, socket->domain, socket->type, held);
  if (verdict.kind == BindVerdict::Kind::pass) return run();
  if (verdict.kind == BindVerdict::Kind::refuse) {
    respond(fd, call.id, {Response::Kind::error, EADDRINUSE});
    hooks_.refused(worker, verdict.reason);
    return;
  }
  const bool fresh = hooks_.nothing_served();  // the shared socket is this generation's alone
  if (verdict.kind == BindVerdict::Kind::rebind &&
      !hooks_.rebind(verdict.listener, *wanted, socket->v6only != 0)) {
    respond(fd, call.id, {Response::Kind::error, EADDRINUSE});
    return;
  }
  const int shared = hooks_.fd_of(verdict.listener);
  const std::string where = describe_bind_address(*wanted);

  // O_NONBLOCK is the open file's, shared by every generation: it follows the child's own socket
  // (Go, libuv and asyncio make theirs non-blocking and hang on a blocking one). fcntl() takes
  // no socket lock. Said once per worker, so that a child binding in a loop floods no log.
  const bool nonblocking = socket->nonblocking != 0;
  const int flags = ::fcntl(shared, F_GETFL);
  if (flags >= 0 && ((flags & O_NONBLOCK) != 0) != nonblocking) {
    (void)::fcntl(shared, F_SETFL, nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
    const auto before = nonblocking_.find(verdict.listener);
    if (before != nonblocking_.end() && before->second != nonblocking && !channel.said_flag) {
      channel.said_flag = true;
      log_warn("generation {} made its own socket for {} {}: the shared socket is now {} for "
               "every generation (an older one that expects otherwise may hang in accept)",
               worker.generation, where, nonblocking ? "non-blocking" : "blocking",
               nonblocking ? "non-blocking" : "blocking");
    }
  }
  nonblocking_[verdict.listener] = nonblocking;

  // Options it set on its own socket: carried over while nothing has been served (the shared
  // socket is then this generation's alone), else named once. Set by the socket helper: a child
  // can hold the shared socket's lock (setsockopt waits for it, uninterruptibly). Reading them
  // takes no lock.
  std::string differ;
  const bool inet = socket->domain != AF_UNIX;
  const bool stream = socket->type == SOCK_STREAM;
  for (std::size_t i = 0; i < kSocketOptionCount; ++i) {
    const SocketOption& carried = kSocketOptions[i];
    if ((carried.inet_only && !inet) || (carried.stream_only && !stream)) continue;
    const int ours = socket_int_option(shared, carried.level, carried.option);
    const int theirs = socket->options[i];
    if (theirs < 0 || ours == theirs) continue;
    // SO_RCVBUF and SO_SNDBUF read back doubled (socket(7)).
    const bool buffer = carried.option == SO_RCVBUF || carried.option == SO_SNDBUF;
    const int value = buffer ? theirs / 2 : theirs;
    if (fresh && socket_helper().set_option(shared, carried.level, carried.option, value) ==
                     ForeignHelper::Done::yes)
      continue;
    differ += std::string(differ.empty() ? "" : ", ") + carried.name;
  }
  if (!differ.empty() && !channel.said_options) {
    channel.said_options = true;
    log_warn("generation {} set {} on its own socket for {}; the shared socket keeps its own "
             "(it serves every generation)",
             worker.generation, differ, where);
  }

  if (!still_that_socket(call.tid, call.args[0], socket->inode)) return run();
  seccomp_notif_addfd add{};
  add.id = call.id;
  add.flags = SECCOMP_ADDFD_FLAG_SETFD;
  add.srcfd = static_cast<std::uint32_t>(shared);
  add.newfd = static_cast<std::uint32_t>(call.args[0]);
  add.newfd_flags = socket->cloexec != 0 ? O_CLOEXEC : 0;
  if (::ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) == -1) return run();  // it is gone
  respond(fd, call.id, {Response::Kind::value, 0});
  if (channel.bound.empty()) {
    channel.bound = where;
    hooks_.taken(worker, call.tid, where);
  }
}

void TakeoverChannels::on_listen(int fd, Channel& channel, const TrappedCall& call) const {
  const std::vector<HeldSocket> held = hooks_.held();
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (is_datagram(held[i].kind)) continue;
    const long same = ::syscall(SYS_kcmp, ::getpid(), call.tid, KCMP_FILE, hooks_.fd_of(i),
                                call.args[0]);
    if (same == 0) {  // a shared socket: it listens already, with reuserun's backlog
      respond(fd, call.id, {Response::Kind::value, 0});
      return;
    }
  }
  // A server that listens on a port of its own while nothing it runs took reuserun's: the
  // usual mistake of `--port 8080 -- server --port 8000`, named if its gate fails (a server that
  // serves fd 3 and an admin port of its own is not a mistake). Looked at while the call still
  // waits: its pid is then surely the caller's.
  std::optional<SocketAddress> own;
  if (channel.bound.empty() && channel.elsewhere.empty()) {
    const auto socket = child_socket(fd, call, call.args[0]);
    if (socket && socket->named != 0 &&
        (socket->name.ss_family == AF_INET || socket->name.ss_family == AF_INET6)) {
      own.emplace();
      own->storage = socket->name;
    }
  }
  respond(fd, call.id, {});
  if (!own) return;
  std::optional<std::uint16_t> our_port;
  for (const HeldSocket& socket : held) {
    if (!is_inet(socket.kind)) continue;
    if (socket.address.port() == own->port()) return;
    if (!our_port) our_port = socket.address.port();
  }
  if (!our_port) return;
  channel.elsewhere = fmt::format(
      "; it listens on {} itself, not on reuserun's port {}: give it port {}, or run reuserun "
      "with --port {}",
      format_address(*own), *our_port, *our_port, own->port());
}

std::string TakeoverChannels::elsewhere(WorkerKey worker) const {
  const auto it = channels_.find(worker);
  return it == channels_.end() || !it->second.bound.empty() ? "" : it->second.elsewhere;
}

}  // namespace reuserun
