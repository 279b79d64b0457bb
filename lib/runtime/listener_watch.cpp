#include "listener_watch.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "log.hpp"
#include "procfs.hpp"
#include "sock_diag.hpp"

namespace reuserun {
namespace {

constexpr auto kWatchInterval = std::chrono::seconds(1);
constexpr auto kReplaceInterval = std::chrono::seconds(30);
constexpr std::size_t kNamedStraysPerLook = 8;
constexpr auto kUnnamedStraysEvery = std::chrono::seconds(30);

bool still_listening(const Listener& listener) {
  if (listener.is_datagram()) return true;  // never listens; a shutdown() is not seen here
  int listening = 0;
  socklen_t length = sizeof listening;
  return ::getsockopt(listener.fd(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 ||
         listening != 0;
}

}  // namespace

ListenerWatch::ListenerWatch(boost::asio::io_context& io, std::vector<Listener>& listeners,
                             int backlog, bool ipv6_only, Hooks hooks)
    : timer_(io),
      listeners_(listeners),
      backlog_(backlog),
      ipv6_only_(ipv6_only),
      hooks_(std::move(hooks)) {}

void ListenerWatch::start() {
  timer_.expires_after(kWatchInterval);
  timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    check();
    start();
  });
}

void ListenerWatch::check() {
  if (hooks_.paused()) return;
  for (std::size_t i = 0; i < listeners_.size(); ++i)
    if (!still_listening(listeners_[i])) replace(i);
  report_strays();
}

// listen() again would not help (a shutdown sticks), but a new socket can join the port
// (SO_REUSEPORT) and a restart hands it to a new generation; the old one has nothing left to
// accept. At most once in kReplaceInterval, so that a server that breaks the socket at every stop
// cannot keep reuserun restarting.
void ListenerWatch::replace(std::size_t index) {
  const std::string where = listeners_[index].describe();
  const auto now = Clock::now();
  if (last_replacement_ && now - *last_replacement_ < kReplaceInterval) return;
  last_replacement_ = now;
  log_error(
      "the listening socket on {} is no longer listening (did a process shutdown() it?): "
      "new connections are refused",
      where);
  auto fresh = Listener::open(listeners_[index].reopen_spec(), backlog_, ipv6_only_);
  if (!fresh) {
    log_error("Failed to replace the socket on {}: {}", where, fresh.error().message);
    return hooks_.replace_failed(where);
  }
  // O_NONBLOCK belongs to the socket, not to its spec (--protocol nginx sets it at start, and
  // nginx stalls on a blocking one): the new socket gets the old one's.
  const int flags = ::fcntl(listeners_[index].fd(), F_GETFL);
  if (flags != -1 && (flags & O_NONBLOCK) != 0 &&
      ::fcntl(fresh.value().fd(), F_SETFL, ::fcntl(fresh.value().fd(), F_GETFL) | O_NONBLOCK) == -1)
    log_warn("Failed to make the new socket on {} non-blocking like the old one: {}", where,
             std::strerror(errno));
  listeners_[index] = std::move(fresh.value());
  log_warn("replaced the socket on {} with a new one; restarting so that a generation serves it",
           where);
  hooks_.replaced(where);
}

// Generations' own sockets are the adoption check's to report (readiness.hpp); any other is
// reported here, once while it lasts.
namespace {

// Whether our own IPv6 socket is IPV6_V6ONLY (--ipv6-only): then an IPv4 socket on the port is
// no competitor.
bool is_v6only(int fd) {
  int value = 0;
  socklen_t length = sizeof value;
  return ::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, &length) == 0 && value != 0;
}

}  // namespace

void ListenerWatch::report_strays() {
  std::set<ino_t> ours, seen;
  for (const Listener& listener : listeners_) {
    struct stat info {};
    if (::fstat(listener.fd(), &info) == 0) ours.insert(info.st_ino);
  }
  std::vector<Stray> fresh;
  for (const Listener& listener : listeners_) {
    if (!listener.is_inet()) continue;
    const bool udp = listener.is_datagram();
    auto sockets =
        listening_sockets(listener.address().port(), udp ? Transport::udp : Transport::tcp);
    if (!sockets) continue;
    const bool v6only = is_v6only(listener.fd());
    for (const ListeningSocket& socket : sockets.value()) {
      if (ours.contains(socket.inode) ||
          !addresses_overlap(socket.address, listener.address(), socket.v6only, v6only))
        continue;
      seen.insert(socket.inode);
      if (reported_strays_.insert(socket.inode).second)
        fresh.push_back({socket.inode, socket.address, udp});
    }
  }
  std::erase_if(reported_strays_, [&](ino_t inode) { return !seen.contains(inode); });
  if (!fresh.empty()) name_strays(fresh);
}

// Bounded work a look whatever others open (issue 25, finding 4: 900 new sockets a second made
// 900 walks of /proc and 1800 warnings): the first kNamedStraysPerLook new strays are looked up
// in one pass over /proc and named; the rest are counted, and the count said at most once in
// kUnnamedStraysEvery.
void ListenerWatch::name_strays(const std::vector<Stray>& fresh) {
  const std::size_t named = std::min(fresh.size(), kNamedStraysPerLook);
  std::set<ino_t> wanted;
  for (std::size_t i = 0; i < named; ++i) wanted.insert(fresh[i].inode);
  const auto holders = holders_of_sockets(wanted, list_pids());
  for (std::size_t i = 0; i < named; ++i) {
    const Stray& stray = fresh[i];
    const auto found = holders.find(stray.inode);
    const pid_t holder = found == holders.end() ? 0 : found->second;
    if (hooks_.in_a_generation(holder)) continue;
    log_warn(
        "pid {} ({}) {} {}{} with a socket of its own: the kernel gives it a share of the {} "
        "meant for {}",
        holder, holder > 0 ? command_line(holder) : "unknown",
        stray.udp ? "is bound to" : "listens on", stray.udp ? "udp:" : "",
        format_address(stray.address), stray.udp ? "datagrams" : "connections",
        hooks_.describe_serving());
  }
  unnamed_strays_ += fresh.size() - named;
  const auto now = Clock::now();
  if (unnamed_strays_ == 0 ||
      (last_unnamed_report_ && now - *last_unnamed_report_ < kUnnamedStraysEvery))
    return;
  log_warn("{} more socket{} of their own on the port, not looked up (at most {} are named a "
           "second, and this count is said at most every {}s)",
           unnamed_strays_, unnamed_strays_ == 1 ? "" : "s", kNamedStraysPerLook,
           std::chrono::duration_cast<std::chrono::seconds>(kUnnamedStraysEvery).count());
  unnamed_strays_ = 0;
  last_unnamed_report_ = now;
}

}  // namespace reuserun
