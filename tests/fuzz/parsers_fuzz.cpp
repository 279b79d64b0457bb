// libFuzzer target for the parsers of what users type (--bind addresses, durations, signal
// names) and of the handover an upgrading reuserun reads. Beyond "no crash, no sanitizer report",
// each accepted value must survive the round trip through its formatter, which is what the logs
// and --help print (and, for a handover, what the next upgrade writes).
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "address.hpp"
#include "duration.hpp"
#include "handover.hpp"
#include "signal_name.hpp"

using namespace reuserun;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (const auto duration = parse_duration(text)) {
        check(duration->count() >= 0);
        check(parse_duration(format_duration(*duration)) == duration);
      }
      break;
    case 1:
      if (const auto address = parse_ip_address(text, 8080)) {
        check(address->family() == AF_INET || address->family() == AF_INET6);
        check(address->port() == 8080);
        check(!format_address(*address).empty());
        check(addresses_overlap(*address, *address));
      }
      break;
    case 2:
      if (const auto sig = parse_signal(text)) {
        check(*sig > 0 && *sig < NSIG);
        check(parse_signal(signal_name(*sig)) == sig);
      }
      break;
    case 3:
      if (const auto handover = decode_handover(text)) {
        const std::string encoded = encode_handover(handover.value());
        const auto again = decode_handover(encoded);
        check(again.ok());
        check(encode_handover(again.value()) == encoded);
      }
      break;
  }
  return 0;
}
