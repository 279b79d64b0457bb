#include "listen_spec.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <vector>

#include "text.hpp"

namespace reuserun {
namespace {

// owner= takes any number, as chown(1) does; a name must exist, as `names` says.
std::optional<uid_t> user_id(std::string_view user, const AccountNames& names) {
  uid_t uid = 0;
  if (parse_number(user, uid)) return uid;
  return names.user ? names.user(user) : std::nullopt;
}

std::optional<gid_t> group_id(std::string_view group, const AccountNames& names) {
  gid_t gid = 0;
  if (parse_number(group, gid)) return gid;
  return names.group ? names.group(group) : std::nullopt;
}

// "8080", "127.0.0.1:8080", "[::1]:8080", "*:8080".
bool parse_tcp(std::string_view text, ListenSpec& spec) {
  const auto colon = text.rfind(':');
  const std::string_view port_text =
      colon == std::string_view::npos ? text : text.substr(colon + 1);
  unsigned port = 0;
  if (!parse_number(port_text, port) || port > 65535) return false;
  spec.port = static_cast<std::uint16_t>(port);
  if (colon == std::string_view::npos) return true;
  const std::string_view host = text.substr(0, colon);
  if (host == "*") return true;
  // An IPv6 address needs its brackets here: "::1:8080" is ambiguous.
  if (host.find(':') != std::string_view::npos && !host.starts_with('[')) return false;
  spec.address = parse_ip_address(host, spec.port);
  return spec.address.has_value();
}

constexpr ListenSpec::Kind kPathKinds[] = {ListenSpec::Kind::unix_stream,
                                           ListenSpec::Kind::unix_dgram,
                                           ListenSpec::Kind::unix_seqpacket};

}  // namespace

int socket_type(ListenSpec::Kind kind) {
  if (is_datagram(kind)) return SOCK_DGRAM;
  return kind == ListenSpec::Kind::unix_seqpacket ? SOCK_SEQPACKET : SOCK_STREAM;
}

std::string_view kind_prefix(ListenSpec::Kind kind) {
  switch (kind) {
    case ListenSpec::Kind::tcp:
      return "";
    case ListenSpec::Kind::udp:
      return "udp:";
    case ListenSpec::Kind::unix_stream:
      return "unix:";
    case ListenSpec::Kind::unix_dgram:
      return "unix-dgram:";
    case ListenSpec::Kind::unix_seqpacket:
      return "unix-seqpacket:";
  }
  return "";
}

Result<ListenSpec> parse_listen_spec(std::string_view text, const AccountNames& names) {
  const auto fail = [&](const std::string& why) {
    return Error{"invalid value '" + std::string(text) + "' for --listen: " + why, EINVAL};
  };
  const auto parts = split(text, ',');
  ListenSpec spec;
  const std::string_view where = parts.front();
  const auto path_kind = std::find_if(std::begin(kPathKinds), std::end(kPathKinds), [&](auto kind) {
    return where.starts_with(kind_prefix(kind));
  });
  if (path_kind != std::end(kPathKinds)) {
    spec.kind = *path_kind;
    spec.path = std::string(where.substr(kind_prefix(spec.kind).size()));
    if (!spec.path.starts_with('/')) return fail("a unix socket needs an absolute path");
    if (spec.path.size() > 107) return fail("the unix socket path is longer than 107 bytes");
  } else if (where.starts_with("udp:")) {
    spec.kind = ListenSpec::Kind::udp;
    if (!parse_tcp(where.substr(4), spec))
      return fail("expected udp:PORT or udp:ADDRESS:PORT ([IPv6]:PORT)");
  } else if (!parse_tcp(where, spec)) {
    return fail(
        "expected PORT, ADDRESS:PORT ([IPv6]:PORT), udp:PORT, unix:/PATH, unix-dgram:/PATH or "
        "unix-seqpacket:/PATH");
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto equals = parts[i].find('=');
    const std::string_view key = parts[i].substr(0, equals);
    const std::string_view value =
        equals == std::string_view::npos ? std::string_view() : parts[i].substr(equals + 1);
    if (key == "name") {
      if (value.empty() || value.find(':') != std::string_view::npos || value.size() > 255)
        return fail("a name is 1 to 255 characters without ':'");
      spec.name = std::string(value);
      continue;
    }
    if (is_inet(spec.kind) || (key != "mode" && key != "owner"))
      return fail("unknown option '" + std::string(parts[i]) +
                  "' (name=, and for unix: mode=, owner=)");
    if (key == "mode") {
      mode_t mode = 0;
      if (!parse_number(value, mode, 8) || mode > 07777)
        return fail("mode= takes octal, such as 0660");
      spec.mode = mode;
    } else {
      const auto owner = split(value, ':');
      spec.owner = user_id(owner.front(), names);
      if (!spec.owner) return fail("no such user '" + std::string(owner.front()) + "'");
      if (owner.size() > 1) {
        spec.group = group_id(owner[1], names);
        if (!spec.group) return fail("no such group '" + std::string(owner[1]) + "'");
      }
    }
  }
  return spec;
}

std::string describe_listen_spec(const ListenSpec& spec) {
  const std::string prefix(kind_prefix(spec.kind));
  if (!is_inet(spec.kind)) return prefix + spec.path;
  if (!spec.address) return prefix + "*:" + std::to_string(spec.port);
  return prefix + format_address(*spec.address);
}

}  // namespace reuserun
