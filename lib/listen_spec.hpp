// What one --listen names: a TCP address and port, or a unix socket path, with the options that
// go with it. Parsed here, opened by Listener.
//
//   8080                  every address (dual-stack [::], or 0.0.0.0 without IPv6)
//   127.0.0.1:8080  [::1]:8080  [::]:8080  *:8080
//   unix:/run/app.sock
// each followed by any of ",name=NAME" (its LISTEN_FDNAMES entry), and for unix sockets
// ",mode=0660" and ",owner=USER[:GROUP]" (names or numbers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "address.hpp"
#include "result.hpp"

namespace reuserun {

struct ListenSpec {
  enum class Kind { tcp, unix_stream };
  Kind kind = Kind::tcp;
  std::optional<SocketAddress> address;  // tcp, with the port; nullopt: every address
  std::uint16_t port = 0;                // tcp; 0: the kernel picks one
  std::string path;                      // unix
  std::string name = "reuserun";         // LISTEN_FDNAMES entry
  std::optional<mode_t> mode;            // unix: chmod after bind
  std::optional<uid_t> owner;            // unix: chown after bind
  std::optional<gid_t> group;
};

// Error: one line naming what is wrong in `text`.
Result<ListenSpec> parse_listen_spec(std::string_view text);

// "127.0.0.1:8080", "*:8080", "unix:/run/app.sock", for logs.
std::string describe_listen_spec(const ListenSpec& spec);

}  // namespace reuserun
