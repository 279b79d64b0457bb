// Which of a child's own binds the bind takeover answers with one of reuserun's sockets
// (docs/DESIGN.md §10), and what is read out of the sockaddr bytes the child passed. Pure: the
// loop's side, which traps the call and hands the socket over, is bind_takeover.hpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "listen_spec.hpp"

namespace reuserun {

// What a child asked for in bind(), as far as the takeover cares.
struct BindAddress {
  int family = 0;      // AF_INET, AF_INET6 or AF_UNIX
  SocketAddress inet;  // AF_INET, AF_INET6
  std::string path;    // AF_UNIX: a file path ("" for an abstract or unnamed address)
};
// The sockaddr bytes a child passed: nullopt for a family or length the takeover leaves alone.
std::optional<BindAddress> parse_bind_address(const void* bytes, std::size_t length);
std::string describe_bind_address(const BindAddress& address);

// One of reuserun's sockets as the decision sees it.
struct HeldSocket {
  ListenSpec::Kind kind = ListenSpec::Kind::tcp;
  SocketAddress address;    // inet
  std::string path;         // unix
  bool rebindable = false;  // no --bind chose its address, and nothing has been served yet
};

struct BindVerdict {
  enum class Kind {
    pass,       // not ours: the bind runs unchanged
    take_over,  // the child gets held[listener]
    rebind,     // held[listener] is bound again at the child's address first, then taken over
    refuse      // ours, but of the other family: the generation fails (`reason`)
  };
  Kind kind = Kind::pass;
  std::size_t listener = 0;
  std::string reason;
};
// `domain` and `type` are the child's socket's (SO_DOMAIN, SO_TYPE).
BindVerdict decide_bind(const BindAddress& wanted, int domain, int type,
                        const std::vector<HeldSocket>& held);

}  // namespace reuserun
