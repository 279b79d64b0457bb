#include "child_protocols.hpp"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace reuserun {

std::optional<std::vector<Protocol>> parse_protocols(std::string_view list) {
  std::vector<Protocol> protocols;
  while (true) {
    const auto comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    Protocol protocol{};
    if (name == "systemd")
      protocol = Protocol::systemd;
    else if (name == "einhorn")
      protocol = Protocol::einhorn;
    else if (name == "server-starter")
      protocol = Protocol::server_starter;
    else if (name == "nginx")
      protocol = Protocol::nginx;
    else
      return std::nullopt;
    if (std::find(protocols.begin(), protocols.end(), protocol) == protocols.end())
      protocols.push_back(protocol);
    if (comma == std::string_view::npos) return protocols;
    list.remove_prefix(comma + 1);
  }
}

EnvPairs protocol_variables(const std::vector<Protocol>& protocols,
                            const std::vector<HandedSocket>& sockets, unsigned long generation) {
  EnvPairs variables;
  for (const Protocol protocol : protocols) {
    switch (protocol) {
      case Protocol::systemd:
        break;  // ChildEnv: LISTEN_PID is only known in the child
      case Protocol::einhorn:
        variables.emplace_back("EINHORN_FD_COUNT", std::to_string(sockets.size()));
        for (std::size_t i = 0; i < sockets.size(); ++i)
          variables.emplace_back("EINHORN_FD_" + std::to_string(i), std::to_string(sockets[i].fd));
        break;
      case Protocol::server_starter: {
        std::string ports;
        for (const auto& socket : sockets)
          ports +=
              (ports.empty() ? "" : ";") + socket.starter_name + "=" + std::to_string(socket.fd);
        variables.emplace_back("SERVER_STARTER_PORT", ports);
        variables.emplace_back("SERVER_STARTER_GENERATION", std::to_string(generation));
        break;
      }
      case Protocol::nginx: {
        std::string fds;
        for (const auto& socket : sockets) fds += std::to_string(socket.fd) + ";";
        variables.emplace_back("NGINX", fds);
        break;
      }
    }
  }
  return variables;
}

Result<std::vector<std::string>> substitute_fds(const std::vector<std::string>& argv,
                                                const std::vector<HandedSocket>& sockets) {
  std::vector<std::string> result;
  for (const std::string& arg : argv) {
    std::string out;
    std::size_t at = 0;
    while (true) {
      const std::size_t open = arg.find("{fd", at);
      const std::size_t close = open == std::string::npos ? open : arg.find('}', open);
      const bool marker = close != std::string::npos && (close == open + 3 || arg[open + 3] == ':');
      if (!marker) {
        out += arg.substr(at);
        break;
      }
      out += arg.substr(at, open - at);
      const std::string name = close == open + 3 ? "" : arg.substr(open + 4, close - open - 4);
      const auto socket = name.empty()
                              ? sockets.begin()
                              : std::find_if(sockets.begin(), sockets.end(),
                                             [&](const auto& s) { return s.name == name; });
      if (socket == sockets.end())
        return Error{
            fmt::format("the command names {{fd:{}}}, but no socket is named {}", name, name),
            EINVAL};
      out += std::to_string(socket->fd);
      at = close + 1;
    }
    result.push_back(std::move(out));
  }
  return result;
}

}  // namespace reuserun
