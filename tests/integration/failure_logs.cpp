// A failed integration test prints the output of every process it started (reuserun's log above
// all) as they end: the assertions state the behaviour, this file supplies the evidence.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace {

[[maybe_unused]] const bool registered = [] {
  rrtest::Process::print_logs_when([] { return ::testing::Test::HasFailure(); });
  return true;
}();

}  // namespace
