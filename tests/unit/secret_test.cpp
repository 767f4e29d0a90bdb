// core/secret.hpp: the one comparison that SOCKS5 passwords, Proxy-Authorization and the
// admin token all use.
#include "hopgate/core/secret.hpp"

#include <gtest/gtest.h>
#include <string>

using hopgate::no_such_user_secret;
using hopgate::secret_equals;

TEST(SecretEquals, EqualOnlyWhenEveryByteAndTheLengthMatch) {
  EXPECT_TRUE(secret_equals("token", "token"));
  EXPECT_TRUE(secret_equals("", ""));
  EXPECT_FALSE(secret_equals("tokem", "token"));
  EXPECT_FALSE(secret_equals("Token", "token"));
  EXPECT_FALSE(secret_equals("toke", "token"));
  EXPECT_FALSE(secret_equals("tokenn", "token"));
  EXPECT_FALSE(secret_equals("", "token"));
  EXPECT_FALSE(secret_equals("x", ""));
}

TEST(SecretEquals, BytesPastAShorterTextAreNotTakenAsZeros) {
  // The shorter text is padded with 0 inside the fold; the length still tells them apart.
  EXPECT_FALSE(secret_equals(std::string("ab\0", 3), "ab"));
  EXPECT_FALSE(secret_equals("ab", std::string("ab\0", 3)));
  EXPECT_TRUE(secret_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
}

TEST(SecretEquals, EveryByteValueAndEveryPositionCounts) {
  std::string secret(64, '\0');
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<char>(i * 37 + 11);
  for (std::size_t pos = 0; pos < secret.size(); ++pos)
    for (int bit = 0; bit < 8; ++bit) {
      auto guess = secret;
      guess[pos] = static_cast<char>(guess[pos] ^ (1 << bit));
      ASSERT_FALSE(secret_equals(guess, secret)) << "byte " << pos << " bit " << bit;
    }
  EXPECT_TRUE(secret_equals(secret, secret));
}

TEST(SecretEquals, TheUnknownUserSecretIsNotAnEmptyOrPrintablePassword) {
  EXPECT_FALSE(secret_equals("", no_such_user_secret));
  EXPECT_FALSE(secret_equals("no-such-user", no_such_user_secret));
}
