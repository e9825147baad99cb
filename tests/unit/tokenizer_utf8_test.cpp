// Utf8StreamDecoder: holds back incomplete sequences, reports invalid bytes as U+FFFD as soon as they are known.
#include <gtest/gtest.h>

#include <string>

#include "tokenizer/tokenizer.h"

namespace ondi {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Utf8StreamDecoder, Ascii) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("hello"), "hello");
  EXPECT_EQ(d.push(""), "");
  EXPECT_EQ(d.flush(), "");
}

TEST(Utf8StreamDecoder, MultiByteSplitAcrossPushes) {
  Utf8StreamDecoder d;
  // U+1F642 (4 bytes) one byte at a time.
  EXPECT_EQ(d.push("a\xF0"), "a");
  EXPECT_EQ(d.push("\x9F"), "");
  EXPECT_EQ(d.push("\x99"), "");
  EXPECT_EQ(d.push("\x82z"), "\xF0\x9F\x99\x82z");
  // "語" split 2+1, then "é" split 1+1 at the end of a chunk.
  EXPECT_EQ(d.push("\xE8\xAA"), "");
  EXPECT_EQ(d.push("\x9E\xC3"), "\xE8\xAA\x9E");
  EXPECT_EQ(d.push("\xA9"), "\xC3\xA9");
  EXPECT_EQ(d.flush(), "");
}

TEST(Utf8StreamDecoder, InvalidBytesReportedAtOnce) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("\x80"), kFFFD);              // stray continuation byte
  EXPECT_EQ(d.push("\xC0\xAF"), kFFFD + kFFFD);  // C0 never leads; AF is then a stray continuation
  EXPECT_EQ(d.push("\xFF"), kFFFD);              // never valid
  EXPECT_EQ(d.push("\xE2\x82"
                   "A"),
            kFFFD + "A");                        // truncated by a non-continuation: one U+FFFD, A kept
  EXPECT_EQ(d.push("\xED\xA0"), kFFFD + kFFFD);  // surrogate: known bad at its second byte
  EXPECT_EQ(d.push("\xF4\x90"), kFFFD + kFFFD);  // > U+10FFFF
  EXPECT_EQ(d.push("\xF0"), "");                 // could still become valid
  EXPECT_EQ(d.push("\x80"), kFFFD + kFFFD);      // F0 80 is overlong
  EXPECT_EQ(d.flush(), "");
}

TEST(Utf8StreamDecoder, FlushIncomplete) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("ok\xE6\x97"), "ok");
  EXPECT_EQ(d.flush(), kFFFD);
  EXPECT_EQ(d.flush(), "");
  EXPECT_EQ(d.push("\xA5"), kFFFD);  // the held bytes are gone after flush
}

}  // namespace
}  // namespace ondi
