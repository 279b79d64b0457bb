// Freeing the port before binding it (DESIGN.md §1): every process that still listens on it (a
// stale dev server, an orphan of a crashed launcher) gets SIGTERM, a grace period, then SIGKILL.
#pragma once

#include <optional>
#include <string>

#include "address.hpp"
#include "duration.hpp"
#include "result.hpp"

namespace reuserun {

// Asks every competing listener on `address` to leave and waits until the port is free. Each
// victim is logged with pid, user and command line. Returns an Error naming the holders when the
// port is still held (including holders it must leave alone, see protected_reason()).
std::optional<Error> free_port(const SocketAddress& address, Duration grace);

// "pid 1234 (user alice): python3 -m http.server 8080; ..." or "" when nobody listens there.
std::string describe_port_holders(const SocketAddress& address);

}  // namespace reuserun
