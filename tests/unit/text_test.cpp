#include "text.hpp"

#include <gtest/gtest.h>

namespace reuserun {
namespace {

TEST(EscapeForeign, ANewlineCannotStartALogRecordOfItsOwn) {
  EXPECT_EQ(escape_foreign("python3 x\n<0>forged"), "python3 x\\x0a<0>forged");
  EXPECT_EQ(escape_foreign("a\rb\tc\x7f"), "a\\x0db\\x09c\\x7f");
  EXPECT_EQ(escape_foreign(std::string("nul\0byte", 8)), "nul\\x00byte");
}

TEST(EscapeForeign, BackslashesAreDoubledSoAnEscapeCannotBeForgedEither) {
  EXPECT_EQ(escape_foreign("C:\\x0a"), "C:\\\\x0a");
}

TEST(EscapeForeign, WellFormedUtf8StaysAndEverythingElseBecomesHex) {
  EXPECT_EQ(escape_foreign("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
  EXPECT_EQ(escape_foreign("\xff"), "\\xff");
  EXPECT_EQ(escape_foreign("\xc3"), "\\xc3") << "a truncated sequence";
  EXPECT_EQ(escape_foreign("\xc0\xaf"), "\\xc0\\xaf") << "an overlong '/'";
  EXPECT_EQ(escape_foreign("\xed\xa0\x80"), "\\xed\\xa0\\x80") << "a surrogate";
  EXPECT_EQ(escape_foreign("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80") << "above U+10FFFF";
  EXPECT_EQ(escape_foreign("\xc2\x9b" "2J"), "\\xc2\\x9b2J") << "C1 CSI, a terminal escape";
}

TEST(Loggable, OnlyControlsAndBadBytesChangeAndBackslashesStay) {
  EXPECT_TRUE(is_loggable("bound 127.0.0.1:8080 \\ caf\xc3\xa9"));
  EXPECT_FALSE(is_loggable("two\nlines"));
  EXPECT_FALSE(is_loggable("\xff"));
  EXPECT_EQ(loggable("two\nlines \\ \xff"), "two\\x0alines \\ \\xff");
}

}  // namespace
}  // namespace reuserun
