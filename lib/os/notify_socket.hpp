// The sd_notify channel of one generation (sd_notify(3) protocol): a private AF_UNIX datagram
// socket whose path the child gets as NOTIFY_SOCKET.
//
// Only the generation can reach it: the socket file (0600) sits in a fresh directory (0700,
// mkdtemp) under /run (or $XDG_RUNTIME_DIR, else /tmp), both owned by the children's user. An
// abstract name would be listed in /proc/net/unix and reachable by every local user. SO_PASSCRED
// makes the kernel attach the sender's pid and uid; SO_PASSRIGHTS off (Linux 6.16+) refuses
// SCM_RIGHTS at the sender, and an fd that arrives anyway is closed without lingering: a socket
// with SO_LINGER would otherwise block the event loop in close(). At most kMaxDatagramsPerWake
// datagrams (16) are read per wake-up, so a flood cannot starve signals, timers and `ctl`.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.hpp"

namespace reuserun {

using NotifyFields = std::vector<std::pair<std::string, std::string>>;

// "READY=1\nSTATUS=Booting\n" -> {{"READY","1"},{"STATUS","Booting"}}; lines without '=' dropped.
NotifyFields parse_notify_message(std::string_view datagram);

// The value of `key`, or nullptr.
const std::string* notify_field(const NotifyFields& fields, std::string_view key);

// A watchdog ping and nothing else: says nothing about readiness (a Type=simple service may
// ping without ever sending READY=1).
bool only_watchdog(const NotifyFields& fields);

// A NOTIFY_SOCKET value ("/path", or "@name" in the abstract namespace) as a socket address;
// nullopt when it does not fit sun_path.
struct UnixAddress {
  sockaddr_un address{};
  socklen_t length = 0;
};
std::optional<UnixAddress> unix_address(std::string_view notify_socket);

struct NotifyDatagram {
  pid_t pid = 0;  // from SCM_CREDENTIALS: checked by the kernel, not claimed by the sender
  uid_t uid = 0;
  NotifyFields fields;
};

// Whose channel it is: the children's user and group (reuserun's own without --user).
struct NotifyOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

inline constexpr int kMaxDatagramsPerWake = 16;

class NotifySocket {
 public:
  using Handler = std::function<void(const NotifyDatagram&)>;

  // A new socket at "<runtime dir>/reuserun-notify.XXXXXX/notify", owned by `owner`.
  static Result<std::unique_ptr<NotifySocket>> open(boost::asio::io_context& io, NotifyOwner owner);
  // The socket an earlier image of reuserun opened at `address` (an upgrade).
  static std::unique_ptr<NotifySocket> adopt(boost::asio::io_context& io, int fd,
                                             std::string address);
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket();  // removes the socket file and its directory

  // The NOTIFY_SOCKET value for the child.
  const std::string& address() const { return address_; }
  int fd() { return socket_.native_handle(); }

  // Calls `handler` for every datagram until the socket is destroyed.
  void receive(Handler handler);

 private:
  NotifySocket(boost::asio::posix::stream_descriptor socket, std::string address)
      : socket_(std::move(socket)), address_(std::move(address)) {}
  bool sender_may_speak(uid_t uid) const;
  void wait_for_datagram();
  void on_readable();
  bool read_datagrams();  // true: all read

  boost::asio::posix::stream_descriptor socket_;
  std::string address_;
  std::optional<uid_t> owner_uid_;  // unset for an adopted socket: the generation's uid unknown
  static constexpr int kMaxFailedHandoffs = 3;  // of datagrams with fds the helper did not take
  int failed_handoffs_ = 0;
  bool deaf_ = false;  // after kMaxFailedHandoffs: no longer read
  Handler handler_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for handlers posted past our end
};

}  // namespace reuserun
