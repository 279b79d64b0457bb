// The listening socket: created once by the launcher, held for its whole life, inherited by every
// generation at fd 3. The launcher never accepts on it and never shutdown()s it: connections that
// arrive while no child accepts wait in its one backlog instead of being refused (DESIGN.md §2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "address.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

struct ListenerSpec {
  std::optional<SocketAddress> address;  // nullopt: every address (dual-stack [::] when possible)
  std::uint16_t port = 0;                // 0: the kernel picks one
  int backlog = 4096;
  std::string name = "reuserun";  // LISTEN_FDNAMES entry
};

class Listener {
 public:
  // socket + SO_REUSEADDR + SO_REUSEPORT + bind + listen, close-on-exec.
  static Result<Listener> open(const ListenerSpec& spec);
  // A socket that is already bound and listening (socket activation).
  static Listener adopt(UniqueFd fd, const SocketAddress& address, std::string name) {
    return {std::move(fd), address, std::move(name)};
  }

  int fd() const { return fd_.get(); }
  const SocketAddress& address() const { return address_; }  // the bound address, real port
  const std::string& name() const { return name_; }

 private:
  Listener(UniqueFd fd, SocketAddress address, std::string name)
      : fd_(std::move(fd)), address_(address), name_(std::move(name)) {}

  UniqueFd fd_;
  SocketAddress address_;
  std::string name_;
};

}  // namespace reuserun
