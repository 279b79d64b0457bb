// File descriptors over a unix socket (SCM_RIGHTS): the helper's channel and what children pass
// on their notify sockets (foreign_helper.hpp).
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace reuserun {

// Sends `size` bytes with `fd` attached: the bytes sent, or -1 (errno). Never raises SIGPIPE.
ssize_t send_with_fd(int socket, const void* data, std::size_t size, int fd);

// Receives at most `size` bytes into `data` and up to `capacity` passed fds into `fds` (`*count`
// of them; any beyond are closed): the bytes received, or -1 (errno). Fds get FD_CLOEXEC.
ssize_t receive_with_fds(int socket, void* data, std::size_t size, int flags, int* fds,
                         std::size_t capacity, std::size_t* count);

}  // namespace reuserun
