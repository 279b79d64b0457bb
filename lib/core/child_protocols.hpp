// How a generation learns about its sockets, besides fds 3.. themselves (--protocol):
//   systemd         LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES (sd_listen_fds(3); ChildEnv)
//   einhorn         EINHORN_FD_COUNT=N, EINHORN_FD_0=3, EINHORN_FD_1=4, ...
//   server-starter  SERVER_STARTER_PORT=127.0.0.1:8080=3;/run/app.sock=4 (Server::Starter's
//                   --port spelling: a port alone for every address), SERVER_STARTER_GENERATION
//   nginx           NGINX=3;4;  (nginx's inherited-sockets variable)
// and, whatever the protocols, "{fd}" and "{fd:NAME}" in the child's arguments become the fd of
// the first socket / of the socket named NAME (uvicorn --fd {fd}).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "env_text.hpp"
#include "result.hpp"

namespace reuserun {

enum class Protocol { systemd, einhorn, server_starter, nginx };

// "systemd,einhorn" -> {systemd, einhorn}; nullopt for an unknown name or an empty list.
std::optional<std::vector<Protocol>> parse_protocols(std::string_view list);

struct HandedSocket {
  int fd = 0;                // in the child: 3, 4, ...
  std::string name;          // LISTEN_FDNAMES entry
  std::string starter_name;  // Server::Starter's spelling: "8080", "127.0.0.1:8080", "/path"
};

// The variables of every protocol but systemd's (ChildEnv's own: LISTEN_PID is the child's).
EnvPairs protocol_variables(const std::vector<Protocol>& protocols,
                            const std::vector<HandedSocket>& sockets, unsigned long generation);

// argv with "{fd}" and "{fd:NAME}" replaced; an error names an unknown NAME.
Result<std::vector<std::string>> substitute_fds(const std::vector<std::string>& argv,
                                                const std::vector<HandedSocket>& sockets);

}  // namespace reuserun
