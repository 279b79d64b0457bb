// The JSON log line: one object, its fields present only where they apply.
#include "log.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

TEST(Log, AJsonLineAboutAWorkerCarriesItsEventGenerationWorkerAndPid) {
  EXPECT_EQ(
      format_json_log_line("2026-11-26T18:00:00.123Z", LogLevel::info,
                           "generation 2 (pid 4242) is ready", {"ready", 2, 0, true, 4242}, 41),
      R"({"time":"2026-11-26T18:00:00.123Z","level":"info",)"
      R"("message":"generation 2 (pid 4242) is ready","event":"ready","generation":2,)"
      R"("worker":0,"pid":4242,"reuserun_pid":41})");
}

TEST(Log, AJsonLineAboutNothingInParticularHasNoWorkerFieldsAndEscapesItsText) {
  EXPECT_EQ(format_json_log_line("t", LogLevel::warn, "a \"quoted\"\tline\n", {}, 41),
            R"({"time":"t","level":"warn","message":"a \"quoted\"\tline\n","reuserun_pid":41})");
}

TEST(Log, FormatsByName) {
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_FALSE(parse_log_format("JSON").has_value());
  EXPECT_FALSE(parse_log_format("").has_value());
}

}  // namespace
}  // namespace reuserun
