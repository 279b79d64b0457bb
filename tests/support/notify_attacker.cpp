// A hostile local user's tools against reuserun's sd_notify channel, for the hostile-neighbour
// tests (tests/integration/hostile_test.cpp). Run as another uid; talks only to the given unix
// socket and to a listener of its own on 127.0.0.1.
//
//   notify_attacker PATH linger     one datagram carrying an fd: a TCP socket with unsent data
//                                   and SO_LINGER 3 s, whose close() would block for 3 s
//   notify_attacker PATH flood N    N datagrams, bounded by 20 s
//
// Prints one line: "sent N" or "refused: <errno text>", and exits 0 either way (the test judges
// reuserun, not the attacker).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

sockaddr_un target(const char* path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  if (path[0] == '@') address.sun_path[0] = '\0';
  return address;
}

socklen_t target_length(const char* path) {
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path));
}

// A connected TCP socket whose peer never reads, its send queue full, lingering 3 s on close.
int lingering_socket() {
  const int server = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) == -1 ||
      listen(server, 1) == -1 ||
      getsockname(server, reinterpret_cast<sockaddr*>(&address), &length) == -1)
    return -1;
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == -1) return -1;
  fcntl(client, F_SETFL, O_NONBLOCK);
  char junk[65536] = {};
  for (int i = 0; i < 1000 && write(client, junk, sizeof junk) > 0; ++i) {
  }
  fcntl(client, F_SETFL, 0);
  const linger three_seconds{1, 3};
  setsockopt(client, SOL_SOCKET, SO_LINGER, &three_seconds, sizeof three_seconds);
  return client;  // the server socket stays open and never accepts: nobody reads
}

int send_linger(const char* path) {
  const int fd = lingering_socket();
  if (fd < 0) return std::printf("refused: cannot build the lingering socket\n"), 0;
  const int channel = socket(AF_UNIX, SOCK_DGRAM, 0);
  const sockaddr_un address = target(path);
  char text[] = "STATUS=hello";
  iovec io{text, sizeof text - 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_name = const_cast<sockaddr_un*>(&address);
  message.msg_namelen = target_length(path);
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  if (sendmsg(channel, &message, 0) == -1)
    return std::printf("refused: %s\n", std::strerror(errno)), 0;
  std::printf("sent 1\n");
  return 0;
}

int flood(const char* path, long count) {
  const int channel = socket(AF_UNIX, SOCK_DGRAM, 0);
  const sockaddr_un address = target(path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  long sent = 0;
  while (sent < count && std::chrono::steady_clock::now() < deadline) {
    const char text[] = "STATUS=flood";
    if (sendto(channel, text, sizeof text - 1, MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&address), target_length(path)) >= 0) {
      ++sent;
      continue;
    }
    if (errno == EAGAIN) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (sent == 0) return std::printf("refused: %s\n", std::strerror(errno)), 0;
    break;
  }
  std::printf("sent %ld\n", sent);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[2]) == "linger") return send_linger(argv[1]);
  if (argc >= 4 && std::string(argv[2]) == "flood") return flood(argv[1], std::atol(argv[3]));
  std::fprintf(stderr, "usage: notify_attacker PATH linger | PATH flood N\n");
  return 2;
}
