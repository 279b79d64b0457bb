#include "scm_rights.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace reuserun {

// The most fds one message can carry (SCM_MAX_FD).
constexpr std::size_t kMaxPassedFds = 253;

ssize_t send_with_fd(int socket, const void* data, std::size_t size, int fd) {
  iovec part{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  return ::sendmsg(socket, &message, MSG_NOSIGNAL);
}

ssize_t receive_with_fds(int socket, void* data, std::size_t size, int flags, int* fds,
                         std::size_t capacity, std::size_t* count) {
  iovec part{data, size};
  alignas(cmsghdr) static char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds) + CMSG_SPACE(64)];
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  *count = 0;
  const ssize_t got = ::recvmsg(socket, &message, flags | MSG_CMSG_CLOEXEC);
  if (got < 0) return got;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t passed = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < passed; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      if (*count < capacity) {
        fds[(*count)++] = fd;
      } else {
        ::close(fd);
      }
    }
  }
  return got;
}

}  // namespace reuserun
