#include "notify_socket.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "unique_fd.hpp"

namespace reuserun {

NotifyFields parse_notify_message(std::string_view datagram) {
  NotifyFields fields;
  while (!datagram.empty()) {
    const std::size_t end = std::min(datagram.find('\n'), datagram.size());
    const std::string_view line = datagram.substr(0, end);
    const std::size_t equals = line.find('=');
    if (equals != std::string_view::npos && equals > 0)
      fields.emplace_back(line.substr(0, equals), line.substr(equals + 1));
    datagram.remove_prefix(std::min(end + 1, datagram.size()));
  }
  return fields;
}

const std::string* notify_field(const NotifyFields& fields, std::string_view key) {
  for (const auto& [name, value] : fields)
    if (name == key) return &value;
  return nullptr;
}

std::optional<UnixAddress> unix_address(std::string_view notify_socket) {
  UnixAddress result;
  result.address.sun_family = AF_UNIX;
  if (notify_socket.empty() || notify_socket.size() >= sizeof result.address.sun_path)
    return std::nullopt;
  std::memcpy(result.address.sun_path, notify_socket.data(), notify_socket.size());
  // "@name": the abstract namespace, where sun_path starts with a NUL and nothing is on disk.
  if (notify_socket[0] == '@') result.address.sun_path[0] = '\0';
  result.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + notify_socket.size());
  return result;
}

Result<std::unique_ptr<NotifySocket>> NotifySocket::open(boost::asio::io_context& io,
                                                         std::string_view tag) {
  unsigned char nonce[8] = {};
  if (::getrandom(nonce, sizeof nonce, 0) != sizeof nonce)
    return system_error("get random bytes for a notify socket name", errno);
  std::string name = "reuserun/" + std::to_string(::getpid()) + "/" + std::string(tag) + "/";
  constexpr std::string_view kHex = "0123456789abcdef";
  for (unsigned char byte : nonce) {
    name += kHex[byte >> 4];
    name += kHex[byte & 15];
  }

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return system_error("create a notify socket", errno);
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == -1)
    return system_error("set SO_PASSCRED on the notify socket", errno);
  const std::string address = "@" + name;
  const auto bound = unix_address(address);
  if (!bound) return Error{"Failed to bind the notify socket " + address + ": name too long", 0};
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bound->address), bound->length) == -1)
    return system_error("bind the notify socket " + address, errno);
  boost::asio::posix::stream_descriptor socket(io, fd.release());
  return std::unique_ptr<NotifySocket>(new NotifySocket(std::move(socket), address));
}

std::unique_ptr<NotifySocket> NotifySocket::adopt(boost::asio::io_context& io, int fd,
                                                 std::string address) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  boost::asio::posix::stream_descriptor socket(io, fd);
  return std::unique_ptr<NotifySocket>(new NotifySocket(std::move(socket), std::move(address)));
}

void NotifySocket::receive(Handler handler) {
  handler_ = std::move(handler);
  wait_for_datagram();
}

void NotifySocket::wait_for_datagram() {
  socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this](boost::system::error_code error) {
                       if (error) return;  // closed: `this` may be gone
                       read_datagrams();
                       wait_for_datagram();
                     });
}

void NotifySocket::read_datagrams() {
  while (true) {
    char data[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    iovec io{data, sizeof data - 1};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t length =
        ::recvmsg(socket_.native_handle(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (length < 0) return;  // EAGAIN: all read
    NotifyDatagram datagram;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET) continue;
      if (header->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
        datagram.pid = credentials.pid;
        datagram.uid = credentials.uid;
      } else if (header->cmsg_type == SCM_RIGHTS) {
        // FDSTORE=1 and friends: reuserun keeps no fds for its children; never leak them.
        const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
          ::close(fd);
        }
      }
    }
    const auto size = std::min<std::size_t>(static_cast<std::size_t>(length), sizeof data - 1);
    datagram.fields = parse_notify_message(std::string_view(data, size));
    if (handler_) handler_(datagram);
  }
}

}  // namespace reuserun
