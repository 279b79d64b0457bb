// A listening socket: created once by the launcher (or adopted from its own socket activation),
// held for its whole life, inherited by every generation at fd 3 and on. The launcher never
// accepts on it, never reads it and never shutdown()s it: connections that arrive while no child
// accepts wait in its one backlog instead of being refused, and datagrams in its one receive
// queue (docs/DESIGN.md §2).
#pragma once

#include <optional>
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
  static Listener adopt_inet(UniqueFd fd, ListenSpec::Kind kind, const SocketAddress& address,
                             std::string name) {
    return {std::move(fd), kind, address, "", std::move(name), false};
  }
  // owns_path: the file is ours to remove after all (handed over by an upgrade).
  static Listener adopt_unix(UniqueFd fd, ListenSpec::Kind kind, std::string path,
                             std::string name, bool owns_path = false) {
    return {std::move(fd), kind, {}, std::move(path), std::move(name), owns_path};
  }

  Listener(Listener&& other) noexcept
      : fd_(std::move(other.fd_)),
        kind_(other.kind_),
        address_(other.address_),
        path_(std::move(other.path_)),
        name_(std::move(other.name_)),
        owns_path_(std::exchange(other.owns_path_, false)),
        opened_from_(std::move(other.opened_from_)) {}
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  int fd() const { return fd_.get(); }
  ListenSpec::Kind kind() const { return kind_; }
  bool is_tcp() const { return kind_ == ListenSpec::Kind::tcp; }
  bool is_inet() const { return reuserun::is_inet(kind_); }
  bool is_datagram() const { return reuserun::is_datagram(kind_); }
  // TCP, UDP: the bound address, real port.
  const SocketAddress& address() const { return address_; }
  const std::string& path() const { return path_; }  // unix
  const std::string& name() const { return name_; }
  bool owns_path() const { return owns_path_; }
  // What opens the same socket again (ListenerWatch replaces a broken one): the spec it was
  // opened from (mode=, owner= of a unix socket included) at the address it really got; for an
  // adopted socket (systemd, an upgrade), its address or path and its name.
  ListenSpec reopen_spec() const;
  std::string describe() const {
    return std::string(kind_prefix(kind_)) + (is_inet() ? format_address(address_) : path_);
  }

 private:
  Listener(UniqueFd fd, ListenSpec::Kind kind, const SocketAddress& address, std::string path,
           std::string name, bool owns_path)
      : fd_(std::move(fd)),
        kind_(kind),
        address_(address),
        path_(std::move(path)),
        name_(std::move(name)),
        owns_path_(owns_path) {}

  UniqueFd fd_;
  ListenSpec::Kind kind_ = ListenSpec::Kind::tcp;
  SocketAddress address_;
  std::string path_;
  std::string name_;
  bool owns_path_ = false;
  std::optional<ListenSpec> opened_from_;
};

}  // namespace reuserun
