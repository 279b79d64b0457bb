#include "notify_socket.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "foreign_helper.hpp"
#include "log.hpp"
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

bool only_watchdog(const NotifyFields& fields) {
  return !fields.empty() && std::all_of(fields.begin(), fields.end(), [](const auto& field) {
    return field.first == "WATCHDOG";
  });
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

namespace {

constexpr std::string_view kSocketName = "notify";

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83  // Linux 6.16; older kernels answer ENOPROTOOPT
#endif

// Where the channel's directory goes: a runtime directory that is not aged like /tmp.
std::vector<std::string> runtime_bases() {
  std::vector<std::string> bases;
  const char* runtime = ::getenv("XDG_RUNTIME_DIR");
  if (::geteuid() != 0 && runtime != nullptr && runtime[0] == '/') bases.emplace_back(runtime);
  if (::geteuid() == 0) bases.emplace_back("/run");
  bases.emplace_back("/tmp");
  return bases;
}

Result<std::string> make_private_directory() {
  int error = 0;
  for (const std::string& base : runtime_bases()) {
    std::string pattern = base + "/reuserun-notify.XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) return pattern;  // 0700, ours, a name never used
    error = errno;
  }
  return system_error("create a directory for a notify socket", error);
}

// The directory and the file in it, without following anything the generation planted there.
void remove_channel_directory(const std::string& directory) {
  if (DIR* dir = ::opendir(directory.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      if (::unlinkat(::dirfd(dir), entry->d_name, 0) == -1 && errno == EISDIR)
        (void)::unlinkat(::dirfd(dir), entry->d_name, AT_REMOVEDIR);
    }
    ::closedir(dir);
  }
  if (::rmdir(directory.c_str()) == -1 && errno != ENOENT)
    log_debug("Failed to remove the notify directory {}: {}", directory, std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<NotifySocket>> NotifySocket::open(boost::asio::io_context& io,
                                                         NotifyOwner owner) {
  auto directory = make_private_directory();
  if (!directory) return directory.error();
  const std::string address = directory.value() + "/" + std::string(kSocketName);
  const auto fail = [&](const std::string& what, int error) {
    remove_channel_directory(directory.value());
    return system_error(what + " " + address, error);
  };
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail("create the notify socket", errno);
  const int on = 1;
  const int off = 0;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == -1)
    return fail("set SO_PASSCRED on the notify socket", errno);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof off) == -1 &&
      errno != ENOPROTOOPT)
    return fail("set SO_PASSRIGHTS on the notify socket", errno);
  const auto bound = unix_address(address);
  if (!bound) return fail("bind the notify socket", ENAMETOOLONG);
  const mode_t previous = ::umask(0177);
  const int result =
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bound->address), bound->length);
  const int bind_error = errno;
  ::umask(previous);
  if (result == -1) return fail("bind the notify socket", bind_error);
  // The children get what connect() needs and nothing more (issue 25, finding 10): the socket
  // file is theirs (0600), the directory stays ours, 0710 with their group, so that they can
  // reach the socket but create nothing there (no filling /run, nothing left behind after we
  // exit). Ours and 0700 until then: nobody can swap the file for a link meanwhile.
  if (owner.uid != ::geteuid() || owner.gid != ::getegid()) {
    if (::chown(address.c_str(), owner.uid, owner.gid) == -1)
      return fail("give the children's user the notify socket", errno);
    UniqueFd directory_fd(
        ::open(directory.value().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!directory_fd || ::fchown(directory_fd.get(), static_cast<uid_t>(-1), owner.gid) == -1 ||
        ::fchmod(directory_fd.get(), 0710) == -1)
      return fail("let the children's group reach the directory of the notify socket", errno);
  }
  boost::asio::posix::stream_descriptor socket(io, fd.release());
  std::unique_ptr<NotifySocket> made(new NotifySocket(std::move(socket), address));
  made->owner_uid_ = owner.uid;
  return made;
}

NotifySocket::~NotifySocket() {
  // What is still queued may carry fds (an older kernel): freed with the socket's last
  // reference, which is the helper's, never ours (foreign_helper.hpp).
  if (socket_.is_open()) (void)notify_helper().take_over(socket_.release());
  if (!address_.starts_with('/')) return;
  remove_channel_directory(address_.substr(0, address_.rfind('/')));
}

std::unique_ptr<NotifySocket> NotifySocket::adopt(boost::asio::io_context& io, int fd,
                                                  std::string address) {
  int error = set_close_on_exec(fd);
  if (error == 0) error = set_nonblocking(fd);
  if (error != 0) log_warn("upgrade: notify socket {}: {}", address, std::strerror(error));
  // Who may speak is the socket file's owner, as open() made it: the directory is ours, so the
  // file cannot have been swapped (issue 25, finding 12: an adopted channel heard every uid).
  struct stat info {};
  const bool known = address.starts_with('/') && ::lstat(address.c_str(), &info) == 0 &&
                     S_ISSOCK(info.st_mode);
  boost::asio::posix::stream_descriptor socket(io, fd);
  std::unique_ptr<NotifySocket> adopted(new NotifySocket(std::move(socket), std::move(address)));
  // Unknown (a file gone, an abstract name of an older image): every sender, as before.
  if (known) adopted->owner_uid_ = info.st_uid;
  return adopted;
}

// The generation's user, root, or reuserun's own: anyone else is dropped before any /proc read.
bool NotifySocket::sender_may_speak(uid_t uid) const {
  return !owner_uid_ || uid == *owner_uid_ || uid == 0 || uid == ::geteuid();
}

void NotifySocket::receive(Handler handler) {
  handler_ = std::move(handler);
  wait_for_datagram();
}

void NotifySocket::wait_for_datagram() {
  socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this](boost::system::error_code error) {
                       if (error) return;  // closed: `this` may be gone
                       on_readable();
                     });
}

// A socket left readable after a full batch gets no new edge from the reactor: the rest is read
// from a posted handler, after whatever else is ready (signals, timers, `ctl`) has had its turn.
void NotifySocket::on_readable() {
  if (read_datagrams()) {
    if (!deaf_) wait_for_datagram();
    return;
  }
  boost::asio::post(socket_.get_executor(), [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired()) on_readable();
  });
}

// Each datagram is peeked with room for the credentials only: an fd a sender passes despite
// SO_PASSRIGHTS (an older kernel) is never installed here, so never closed here either (a FUSE
// file's close waits for its server, a socket's for SO_LINGER: issue 25, finding 2). A datagram
// that carried fds is received and its fds closed by the helper; one without is dropped here.
bool NotifySocket::read_datagrams() {
  for (int count = 0; count < kMaxDatagramsPerWake; ++count) {
    if (deaf_) return true;
    char data[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec io{data, sizeof data - 1};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const int fd = socket_.native_handle();
    const ssize_t length = ::recvmsg(fd, &message, MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC);
    if (length < 0) return true;  // EAGAIN: all read
    if ((message.msg_flags & MSG_CTRUNC) == 0) {
      (void)::recv(fd, nullptr, 0, MSG_DONTWAIT);  // the datagram just peeked
    } else if (notify_helper().consume_datagram(fd) != ForeignHelper::Done::yes &&
               ++failed_handoffs_ >= kMaxFailedHandoffs) {
      // The helper could not take it (it hangs on a close): rather than pile up helpers, this
      // channel stops listening. Its worker can still be judged by other gates.
      log_warn("notify socket {}: a sender keeps passing fds whose close hangs; no longer "
               "listening to it",
               address_);
      deaf_ = true;
    }
    NotifyDatagram datagram;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET) continue;
      if (header->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
        datagram.pid = credentials.pid;
        datagram.uid = credentials.uid;
      }
    }
    if (!sender_may_speak(datagram.uid)) continue;
    const auto size = std::min<std::size_t>(static_cast<std::size_t>(length), sizeof data - 1);
    datagram.fields = parse_notify_message(std::string_view(data, size));
    if (handler_) handler_(datagram);
  }
  return false;
}

}  // namespace reuserun
