#pragma once
// The one comparison of secrets: SOCKS5 passwords (RFC 1929), HTTP Proxy-Authorization and the
// admin bearer token all go through secret_equals, so that none of them is an early-exit memcmp
// that tells an attacker, by its timing, how much of a guess was right.
#include <string_view>

namespace hopgate {

/// True when `given` equals `expected`. The time depends only on the two lengths: every byte of
/// the longer text is visited and the differences are folded together, with no branch on the
/// contents. A length difference is folded in the same way.
bool secret_equals(std::string_view given, std::string_view expected);

/// What an unknown user's password is compared with, so that "no such user" takes as long as
/// "wrong password" (no user-name oracle). No password a client can send equals it.
inline constexpr std::string_view no_such_user_secret = "\x01no-such-user\x01";

} // namespace hopgate
