#include "result.hpp"

#include <cstring>

namespace reuserun {

Error system_error(const std::string& what, int code) {
  return Error{"Failed to " + what + ": " + std::strerror(code), code};
}

}  // namespace reuserun
