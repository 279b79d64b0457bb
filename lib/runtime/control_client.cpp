#include "control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>

#include "control_directory.hpp"
#include "exit_code.hpp"
#include "result.hpp"
#include "text.hpp"
#include "unique_fd.hpp"
#include "unix_socket.hpp"

namespace reuserun {
namespace {

// What every "cannot find or reach it" line ends with: reuserun may have been started with
// another --control-socket, another XDG_RUNTIME_DIR or as another user, and its first lines say
// where its socket is.
constexpr const char* kWayOut =
    "reuserun logs its control socket at start: give that path to --control-socket";

std::string unreachable(const std::string& named, int error) {
  if (error == ENOENT)
    return "no control socket at " + named + ": is reuserun running? (" + kWayOut + ")";
  if (error == ECONNREFUSED)
    return "nothing answers on " + named + ": no reuserun runs there (" + kWayOut + ")";
  if (error == EACCES || error == EPERM)
    return "cannot connect to " + named + ": " + std::strerror(error) +
           " (only reuserun's user and root may; " + kWayOut + ")";
  return "cannot connect to " + named + ": " + std::strerror(error) + " (" + kWayOut + ")";
}

}  // namespace

int send_control_request(const std::string& path, const ControlRequest& request, std::ostream& out,
                         std::ostream& err, const std::string& shown) {
  const std::string& named = shown.empty() ? path : shown;
  const auto fail = [&](const std::string& message) {
    err << "reuserun ctl: " << message << "\n";
    return kCtlUnreachable;
  };
  const auto address = unix_socket_address(path);
  if (!address) return fail("invalid control socket path '" + named + "'");
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) == -1)
    return fail(unreachable(named, errno));
  const std::string line = format_control_request(request);
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return fail("cannot send the request to " + named + ": " + std::strerror(errno));
  std::string answer;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && errno == ECONNRESET && !answer.empty()) break;
    if (n == -1) return fail("cannot read the answer from " + named + ": " + std::strerror(errno));
    if (n == 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  const auto newline = answer.find('\n');
  int code = 0;
  if (newline == std::string::npos ||
      !parse_number(std::string_view(answer).substr(0, newline), code))
    return fail("reuserun closed the connection without an answer");
  const std::string text = answer.substr(newline + 1);
  (code == kExitOk || request.json ? out : err) << text;
  return code;
}

namespace {

// `removed`: the dead sockets just removed, worth saying: the reuserun looked for may be one
// that was killed.
std::string nothing_in(const std::string& directory, int removed) {
  const std::string gone =
      removed > 0 ? std::to_string(removed) + " dead ones removed, left by killed runs; " : "";
  return "no control socket in " + directory + ": is reuserun running? (" + gone + kWayOut + ")";
}

// The name of the socket to use in the default directory: `port`'s, else the only live one.
Result<std::string> choose_control_socket(std::optional<std::uint16_t> port, int directory_fd,
                                          const std::string& directory) {
  if (port) return std::to_string(*port) + ".sock";
  const ControlSockets found = list_control_sockets(directory_fd, directory);
  if (found.live.size() == 1) return found.live.front();
  if (found.live.empty()) return Error{nothing_in(directory, found.removed), ENOENT};
  std::string names;
  for (const auto& name : found.live)
    names.append(names.empty() ? "" : ", ").append(directory).append("/").append(name);
  return Error{
      "several reuserun control sockets (" + names + "): name one with --port or --control-socket",
      EEXIST};
}

}  // namespace

int send_to_default_control_socket(std::optional<std::uint16_t> port, const ControlRequest& request,
                                   std::ostream& out, std::ostream& err) {
  const std::string directory = default_control_directory();
  const auto fail = [&](const std::string& message) {
    err << "reuserun ctl: " << message << "\n";
    return kCtlUnreachable;
  };
  const auto opened = open_control_directory(directory);
  if (!opened && opened.error().code == ENOENT)
    return fail(port ? unreachable(default_control_socket(std::to_string(*port)), ENOENT)
                     : nothing_in(directory, 0));
  if (!opened) return fail(opened.error().message + " (name the socket with --control-socket)");
  const int fd = opened.value().get();
  const auto name = choose_control_socket(port, fd, directory);
  if (!name) return fail(name.error().message);
  return send_control_request(path_through(fd, directory, name.value()), request, out, err,
                              directory + "/" + name.value());
}

}  // namespace reuserun
