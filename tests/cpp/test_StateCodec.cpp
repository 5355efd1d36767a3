#include "lmdm/StateCodec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace lmdm;

namespace {

DecodedState decode(const std::string& text) { return decodeState(text.data(), text.size()); }

void expectDefaults(const ParameterValues& v) {
  const ParameterValues defaults;
  EXPECT_EQ(v.mix(), defaults.mix());
  EXPECT_EQ(v.feedback(), defaults.feedback());
  EXPECT_EQ(v.bypass(), defaults.bypass());
}

}  // namespace

TEST(StateCodec, RoundTrips) {
  const ParameterValues values{0.123456f, 0.875f, true};
  const auto decoded = decode(encodeState(values));
  EXPECT_TRUE(decoded.recognised);
  EXPECT_EQ(decoded.values.mix(), values.mix());
  EXPECT_EQ(decoded.values.feedback(), values.feedback());
  EXPECT_EQ(decoded.values.bypass(), values.bypass());
}

TEST(StateCodec, GarbageGivesDefaults) {
  const std::vector<std::string> garbage = {"", "LMDM-STATE 99\nmix=1\n", "<xml/>", std::string(1 << 17, 'x'),
                                            std::string("\0\0\0\xff", 4)};
  for (const auto& bytes : garbage) {
    const auto decoded = decode(bytes);
    EXPECT_FALSE(decoded.recognised);
    expectDefaults(decoded.values);
  }
  expectDefaults(decodeState(nullptr, 10).values);
}

TEST(StateCodec, RandomBytesNeverCrashAndStayInRange) {
  std::mt19937 random(42);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes = trial % 2 ? "LMDM-STATE 1\n" : "";
    const int length = static_cast<int>(random() % 200);
    for (int i = 0; i < length; ++i) bytes += static_cast<char>(random() % 256);
    const auto v = decode(bytes).values;
    EXPECT_GE(v.mix(), 0.0f);
    EXPECT_LE(v.mix(), 1.0f);
    EXPECT_GE(v.feedback(), 0.0f);
    EXPECT_LE(v.feedback(), spec(ParameterId::Feedback).maxValue);
  }
}

TEST(StateCodec, BadValuesFallBackPerParameter) {
  const auto decoded = decode("LMDM-STATE 1\nmix=nan\nfeedback=7\nbypass=banana\nfuture=3\nno equals sign\n");
  EXPECT_TRUE(decoded.recognised);
  EXPECT_EQ(decoded.values.mix(), ParameterValues{}.mix());                       // NaN rejected
  EXPECT_EQ(decoded.values.feedback(), spec(ParameterId::Feedback).maxValue);  // clamped
  EXPECT_EQ(decoded.values.bypass(), ParameterValues{}.bypass());                 // not a number
}

TEST(StateCodec, WhitespaceAndTrailingCharactersAreNotNumbers) {
  const auto decoded = decode("LMDM-STATE 1\nmix=0.25x\nfeedback= \n");
  EXPECT_EQ(decoded.values.mix(), ParameterValues{}.mix());
  EXPECT_EQ(decoded.values.feedback(), ParameterValues{}.feedback());
  EXPECT_EQ(decode("LMDM-STATE 1\nmix=0.25\n").values.mix(), 0.25f);
}

TEST(StateCodec, SessionChoicesRoundTripAndBadOnesAreDropped) {
  const auto decoded = decode(encodeState(ParameterValues{}, {"/home/me/Models/lmdm live", "cuda"}));
  EXPECT_EQ(decoded.session.modelFolder, "/home/me/Models/lmdm live");
  EXPECT_EQ(decoded.session.provider, "cuda");
  // a folder with a line break would smuggle a line in; a provider must be a name
  const auto dropped = decode(encodeState(ParameterValues{}, {"/tmp/x\nmix=0", "CUDA;rm"}));
  EXPECT_TRUE(dropped.session.modelFolder.empty());
  EXPECT_TRUE(dropped.session.provider.empty());
  EXPECT_EQ(dropped.values.mix(), ParameterValues{}.mix());
  EXPECT_TRUE(decode("LMDM-STATE 1\nprovider=../lib\n").session.provider.empty());
  EXPECT_TRUE(decode("LMDM-STATE 1\nmix=0.5\n").session.modelFolder.empty());  // state saved before any choice
}
