// The sd_notify channel of one generation: a private AF_UNIX datagram socket in the abstract
// namespace whose address the child gets as NOTIFY_SOCKET ("@reuserun/..."). SO_PASSCRED makes
// the kernel attach the sender's real pid and uid to every datagram, so messages from processes
// outside the generation can be told apart and ignored (sd_notify(3) protocol).
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

class NotifySocket {
 public:
  using Handler = std::function<void(const NotifyDatagram&)>;

  // A new socket at a fresh abstract address "@reuserun/<our pid>/<tag>/<random>".
  static Result<std::unique_ptr<NotifySocket>> open(boost::asio::io_context& io,
                                                    std::string_view tag);
  // The socket an earlier image of reuserun opened at `address` (an upgrade).
  static std::unique_ptr<NotifySocket> adopt(boost::asio::io_context& io, int fd,
                                             std::string address);
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The NOTIFY_SOCKET value for the child.
  const std::string& address() const { return address_; }
  int fd() { return socket_.native_handle(); }

  // Calls `handler` for every datagram until the socket is destroyed.
  void receive(Handler handler);

 private:
  NotifySocket(boost::asio::posix::stream_descriptor socket, std::string address)
      : socket_(std::move(socket)), address_(std::move(address)) {}
  void wait_for_datagram();
  void read_datagrams();

  boost::asio::posix::stream_descriptor socket_;
  std::string address_;
  Handler handler_;
};

}  // namespace reuserun
