// run(): what reuserun does once the command line is understood. Free the port, bind once, then
// supervise generations until told to stop. Returns the process exit status (exit_code.hpp).
#pragma once

#include "config.hpp"

namespace reuserun {

int run(const Config& config);

}  // namespace reuserun
