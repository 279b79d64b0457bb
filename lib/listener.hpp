// A listening socket: created once by the launcher (or adopted from its own socket activation),
// held for its whole life, inherited by every generation at fd 3 and on. The launcher never
// accepts on it and never shutdown()s it: connections that arrive while no child accepts wait in
// its one backlog instead of being refused (docs/DESIGN.md §2).
#pragma once

#include <string>
#include <utility>

#include "address.hpp"
#include "listen_spec.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace reuserun {

class Listener {
 public:
  // TCP: socket + SO_REUSEADDR + SO_REUSEPORT + bind + listen, close-on-exec; an IPv6 wildcard is
  // dual-stack unless ipv6_only. Unix: a stale socket file is replaced, mode and owner applied,
  // and the file is removed again when this Listener goes.
  static Result<Listener> open(const ListenSpec& spec, int backlog, bool ipv6_only = false);
  // A socket that is already bound and listening (socket activation): never unlinked by us.
  static Listener adopt_tcp(UniqueFd fd, const SocketAddress& address, std::string name) {
    return {std::move(fd), address, "", std::move(name), false};
  }
  // owns_path: the file is ours to remove after all (handed over by an upgrade).
  static Listener adopt_unix(UniqueFd fd, std::string path, std::string name,
                             bool owns_path = false) {
    return {std::move(fd), {}, std::move(path), std::move(name), owns_path};
  }

  Listener(Listener&& other) noexcept
      : fd_(std::move(other.fd_)),
        address_(other.address_),
        path_(std::move(other.path_)),
        name_(std::move(other.name_)),
        owns_path_(std::exchange(other.owns_path_, false)) {}
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  int fd() const { return fd_.get(); }
  bool is_tcp() const { return path_.empty(); }
  const SocketAddress& address() const { return address_; }  // TCP: the bound address, real port
  const std::string& path() const { return path_; }          // unix
  const std::string& name() const { return name_; }
  bool owns_path() const { return owns_path_; }
  std::string describe() const { return is_tcp() ? format_address(address_) : "unix:" + path_; }

 private:
  Listener(UniqueFd fd, const SocketAddress& address, std::string path, std::string name,
           bool owns_path)
      : fd_(std::move(fd)),
        address_(address),
        path_(std::move(path)),
        name_(std::move(name)),
        owns_path_(owns_path) {}

  UniqueFd fd_;
  SocketAddress address_;
  std::string path_;
  std::string name_;
  bool owns_path_ = false;
};

}  // namespace reuserun
