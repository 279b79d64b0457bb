// Freeing the port before binding it (docs/DESIGN.md §1): the processes that still listen on it
// and are plausibly ours (freeing_rule.hpp: a stale dev server of the same user, an orphan of a
// crashed reuserun, a leftover in our own unit) get SIGTERM, a grace period, then SIGKILL.
#pragma once

#include <optional>
#include <string>

#include "address.hpp"
#include "duration.hpp"
#include "freeing_rule.hpp"
#include "result.hpp"
#include "sock_diag.hpp"

namespace reuserun {

// Judges every competing listener on `address` first; if the rule spares any, signals none and
// returns an Error naming every holder, why, and the way out. Otherwise asks them all to leave
// (each logged with pid, user, command line and the rule that allowed it) and waits until the
// port is free; an Error names whoever still holds it.
// For UDP (Transport::udp), a holder is a process with an unconnected UDP socket on the port.
// `v6only`: as find_port_holders (port_owner.hpp).
Result<void> free_port(const SocketAddress& address, Duration grace, FreePortMode mode,
                       Transport transport = Transport::tcp, bool v6only = false);

// Who reuserun is, for the freeing rule (its uid: SUDO_UID when root runs it through sudo).
SelfFacts self_facts();

// "pid 1234 (user alice): python3 -m http.server 8080; ..." or "" when nobody listens there.
std::string describe_port_holders(const SocketAddress& address,
                                  Transport transport = Transport::tcp, bool v6only = false);

}  // namespace reuserun
