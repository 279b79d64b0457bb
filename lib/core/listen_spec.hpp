// What one --listen names: a TCP address and port, or a unix socket path, with the options that
// go with it. Parsed here, opened by Listener.
//
//   8080                  every address (dual-stack [::], or 0.0.0.0 without IPv6)
//   127.0.0.1:8080  [::1]:8080  [::]:8080  *:8080
//   unix:/run/app.sock
//   udp:53  udp:127.0.0.1:53  udp:[::1]:53          datagram sockets (systemd's ListenDatagram=)
//   unix-dgram:/run/log.sock  unix-seqpacket:/run/app.sock
// each followed by any of ",name=NAME" (its LISTEN_FDNAMES entry), and for unix sockets
// ",mode=0660" and ",owner=USER[:GROUP]" (names or numbers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "address.hpp"
#include "result.hpp"

namespace reuserun {

struct ListenSpec {
  enum class Kind { tcp, unix_stream, udp, unix_dgram, unix_seqpacket };
  Kind kind = Kind::tcp;
  std::optional<SocketAddress> address;  // tcp, udp, with the port; nullopt: every address
  std::uint16_t port = 0;                // tcp, udp; 0: the kernel picks one
  std::string path;                      // unix
  std::string name = "reuserun";         // LISTEN_FDNAMES entry
  std::optional<mode_t> mode;            // unix: chmod after bind
  std::optional<uid_t> owner;            // unix: chown after bind
  std::optional<gid_t> group;
};

// TCP or UDP (an address and a port) rather than a path.
constexpr bool is_inet(ListenSpec::Kind kind) {
  return kind == ListenSpec::Kind::tcp || kind == ListenSpec::Kind::udp;
}
// Datagrams, read with recv*(): nothing to accept, no connection to probe.
constexpr bool is_datagram(ListenSpec::Kind kind) {
  return kind == ListenSpec::Kind::udp || kind == ListenSpec::Kind::unix_dgram;
}
// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
int socket_type(ListenSpec::Kind kind);
// "", "udp:", "unix:", "unix-dgram:", "unix-seqpacket:": how --listen spells the kind.
std::string_view kind_prefix(ListenSpec::Kind kind);

// How owner=USER:GROUP names become ids: the app looks them up in the account database
// (accounts.hpp); the parser stays pure (issue 28). Unset: only numbers are taken.
struct AccountNames {
  std::function<std::optional<uid_t>(std::string_view)> user;
  std::function<std::optional<gid_t>(std::string_view)> group;
};

// Error: one line naming what is wrong in `text`.
Result<ListenSpec> parse_listen_spec(std::string_view text, const AccountNames& names = {});

// "127.0.0.1:8080", "*:8080", "udp:*:53", "unix:/run/app.sock", for logs.
std::string describe_listen_spec(const ListenSpec& spec);

}  // namespace reuserun
