// HTTP request-target parsing (absolute-form, authority-form, refusals with their exact error)
// and Basic proxy credentials.
#include "hopgate/codec/http_target.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include <set>
#include <string>

namespace {

using namespace hopgate;
using namespace hopgate::codec::http;
using boost::system::error_code;

error_code err(HttpError e) { return make_error_code(e); }

TEST(HttpTarget, AbsoluteFormWithPortPathAndQuery) {
  error_code ec;
  auto t = parse_absolute_target("http://example.com:8080/a/b?x=1&y=2", ec);
  ASSERT_TRUE(t) << ec.message();
  EXPECT_FALSE(ec);
  EXPECT_EQ(t->form, TargetForm::absolute);
  EXPECT_EQ(t->authority.domain, "example.com");
  EXPECT_EQ(t->authority.port, 8080);
  EXPECT_TRUE(t->port_given);
  EXPECT_EQ(t->origin_form, "/a/b?x=1&y=2");
}

TEST(HttpTarget, DefaultPortAndEmptyPath) {
  error_code ec;
  auto t = parse_absolute_target("http://Example.COM", ec);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->authority.domain, "example.com"); // names are normalised
  EXPECT_EQ(t->authority.port, 80);
  EXPECT_FALSE(t->port_given);
  EXPECT_EQ(t->origin_form, "/");

  t = parse_absolute_target("HTTP://example.com:/x", ec); // scheme case-insensitive, empty port = default
  ASSERT_TRUE(t) << ec.message();
  EXPECT_EQ(t->authority.port, 80);
  EXPECT_EQ(t->origin_form, "/x");

  t = parse_absolute_target("http://example.com?q=1", ec); // query without path
  ASSERT_TRUE(t);
  EXPECT_EQ(t->origin_form, "/?q=1");

  t = parse_absolute_target("http://example.com/p#frag", ec); // fragment never goes out
  ASSERT_TRUE(t);
  EXPECT_EQ(t->origin_form, "/p");
}

TEST(HttpTarget, IpLiterals) {
  error_code ec;
  auto t = parse_absolute_target("http://127.0.0.1:81/", ec);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->authority.is_ipv4());
  EXPECT_EQ(t->authority.ip->to_string(), "127.0.0.1");
  EXPECT_EQ(t->authority.port, 81);

  t = parse_absolute_target("http://[::1]:8080/x", ec);
  ASSERT_TRUE(t) << ec.message();
  ASSERT_TRUE(t->authority.is_ipv6());
  EXPECT_EQ(t->authority.ip->to_string(), "::1");
  EXPECT_EQ(t->authority.port, 8080);

  t = parse_absolute_target("http://[2001:db8::2]/", ec);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->authority.port, 80);
  EXPECT_EQ(host_text(t->authority), "[2001:db8::2]");
}

TEST(HttpTarget, RefusalsCarryTheirReason) {
  struct Case {
    const char* target;
    HttpError error;
  };
  const Case cases[] = {
      {"/index.html", HttpError::origin_form},
      {"/", HttpError::origin_form},
      {"*", HttpError::asterisk_form},
      {"http://user:pw@example.com/", HttpError::userinfo},
      {"http://@example.com/", HttpError::userinfo},
      {"https://example.com/", HttpError::unsupported_scheme},
      {"ftp://example.com/", HttpError::unsupported_scheme},
      {"example.com/", HttpError::bad_target},
      {"://example.com/", HttpError::bad_target},
      {"ht tp://example.com/", HttpError::bad_target},
      {"http://exa mple.com/", HttpError::bad_target},
      {"http:///path", HttpError::bad_host},
      {"http://:80/", HttpError::bad_host},
      {"http://exa%20mple.com/", HttpError::bad_host},
      {"http://::1/", HttpError::bad_host},
      {"http://[::1/", HttpError::bad_host},
      {"http://[1.2.3.4]/", HttpError::bad_host},
      {"http://[::1]x/", HttpError::bad_host},
      {"http://[fe80::1%25eth0]/", HttpError::bad_host},
      {"http://example.com:0/", HttpError::bad_port},
      {"http://example.com:65536/", HttpError::bad_port},
      {"http://example.com:8o/", HttpError::bad_port},
      {"http://example.com:+80/", HttpError::bad_port},
      {"http://example.com:-1/", HttpError::bad_port},
      {"http://[::1]:99999/", HttpError::bad_port},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    error_code ec;
    EXPECT_FALSE(parse_absolute_target(c.target, ec));
    EXPECT_EQ(ec, err(c.error)) << ec.message();
  }
}

TEST(HttpTarget, AuthorityFormForConnect) {
  error_code ec;
  auto t = parse_authority_target("example.com:443", ec);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->form, TargetForm::authority);
  EXPECT_EQ(t->authority.domain, "example.com");
  EXPECT_EQ(t->authority.port, 443);
  EXPECT_TRUE(t->origin_form.empty());

  t = parse_authority_target("10.1.2.3:22", ec);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->authority.is_ipv4());

  t = parse_authority_target("[::1]:443", ec);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->authority.is_ipv6());
  EXPECT_EQ(t->authority.port, 443);

  const std::pair<const char*, HttpError> bad[] = {
      {"example.com", HttpError::bad_port},       {"example.com:", HttpError::bad_port},
      {"example.com:0", HttpError::bad_port},     {"[::1]", HttpError::bad_port},
      {"u:p@example.com:443", HttpError::userinfo}, {"http://example.com:443", HttpError::bad_authority},
      {"example.com:443/x", HttpError::bad_authority}, {"", HttpError::bad_authority},
      {"::1:443", HttpError::bad_host},           {":443", HttpError::bad_host},
  };
  for (const auto& [text, e] : bad) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_authority_target(text, ec));
    EXPECT_EQ(ec, err(e)) << ec.message();
  }
}

TEST(HttpTarget, ClassifyForms) {
  EXPECT_EQ(classify_target("/x", false), TargetForm::origin);
  EXPECT_EQ(classify_target("*", false), TargetForm::asterisk);
  EXPECT_EQ(classify_target("http://a/", false), TargetForm::absolute);
  EXPECT_EQ(classify_target("a:1", true), TargetForm::authority);
}

TEST(HttpTarget, HostTextAndAbsoluteForm) {
  EXPECT_EQ(host_text(TargetAddress::from_host("example.com", 80)), "example.com");
  EXPECT_EQ(host_text(TargetAddress::from_host("example.com", 8080)), "example.com:8080");
  EXPECT_EQ(host_text(TargetAddress::from_host("::1", 8080)), "[::1]:8080");
  EXPECT_EQ(host_text(TargetAddress::from_host("10.0.0.1", 443), 443), "10.0.0.1");
  error_code ec;
  for (const char* uri : {"http://example.com/a?b", "http://example.com:8080/", "http://[::1]:81/x"}) {
    auto t = parse_absolute_target(uri, ec);
    ASSERT_TRUE(t);
    EXPECT_EQ(absolute_form(*t), uri);
  }
  auto t = parse_absolute_target("http://example.com", ec);
  ASSERT_TRUE(t);
  EXPECT_EQ(absolute_form(*t), "http://example.com/");
}

TEST(HttpTarget, BasicCredentials) {
  error_code ec;
  auto c = decode_basic("Basic " + std::string("YWxpY2U6c2VjcmV0"), ec); // alice:secret
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "secret");

  c = decode_basic("  basic   YWxpY2U6czpl:Y3JldA==  ", ec);
  EXPECT_FALSE(c); // ':' inside base64 is not base64

  c = decode_basic(encode_basic("bob", "pa:ss:word"), ec);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "bob");
  EXPECT_EQ(c->password, "pa:ss:word"); // only the first colon splits

  c = decode_basic(encode_basic("", ""), ec);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "");

  EXPECT_EQ(encode_basic("alice", "secret"), "Basic YWxpY2U6c2VjcmV0");
  for (const char* bad : {"", "Basic", "Basic ", "Bearer YWxpY2U6c2VjcmV0", "Basic YWxpY2U", "Basic bm9jb2xvbg==",
                          "Basic !!!!", "BasicYWxpY2U6c2VjcmV0"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(decode_basic(bad, ec));
    EXPECT_EQ(ec, err(HttpError::bad_credentials));
  }
}

TEST(HttpTarget, ErrorMessagesAreShortAndDistinct) {
  std::set<std::string> seen;
  for (int e = static_cast<int>(HttpError::origin_form); e <= static_cast<int>(HttpError::bad_transfer_encoding); ++e) {
    auto m = make_error_code(static_cast<HttpError>(e)).message();
    EXPECT_FALSE(m.empty());
    EXPECT_LT(m.size(), 80u) << m;
    EXPECT_TRUE(seen.insert(m).second) << m;
  }
  EXPECT_STREQ(http_error_category().name(), "hopgate.http");
}

} // namespace
