// The proxy's header rewrite: hop-by-hop removal (RFC 9110 §7.6.1), Via, X-Forwarded-For,
// Host from the URI, framing checks against request smuggling, and head serialisation.
#include "hopgate/codec/http_rewrite.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace {

using namespace hopgate;
using namespace hopgate::codec::http;
using boost::system::error_code;

error_code err(HttpError e) { return make_error_code(e); }

std::vector<std::string> names(const Fields& f) {
  std::vector<std::string> out;
  for (const auto& x : f) out.emplace_back(x.name);
  return out;
}

TEST(HttpRewrite, FieldHelpers) {
  Fields f{{"Host", "a"}, {"accept", "x"}, {"ACCEPT", "y"}, {"X-One", "1"}};
  EXPECT_TRUE(name_equals("Content-Length", "content-length"));
  EXPECT_FALSE(name_equals("Content-Length", "Content-Lengt"));
  ASSERT_NE(find_field(f, "Accept"), nullptr);
  EXPECT_EQ(find_field(f, "Accept")->value, "x");
  EXPECT_EQ(find_field(f, "Missing"), nullptr);
  set_field(f, "Accept", "z");
  EXPECT_EQ(names(f), (std::vector<std::string>{"Host", "accept", "X-One"}));
  EXPECT_EQ(f[1].value, "z");
  set_field(f, "New", "n");
  EXPECT_EQ(f.back(), (Field{"New", "n"}));
  EXPECT_EQ(erase_fields(f, "x-one"), 1u);
  EXPECT_EQ(erase_fields(f, "x-one"), 0u);
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token(" close ", "close"));
  EXPECT_FALSE(has_token("closed", "close"));
  EXPECT_FALSE(has_token("", "close"));
  EXPECT_TRUE(fields_have_token({{"Connection", "a"}, {"connection", "b, Close"}}, "Connection", "close"));
}

TEST(HttpRewrite, StripsEveryHopByHopField) {
  Fields f{{"Host", "example.com"},
           {"Connection", "keep-alive, X-Secret, x-other"},
           {"Connection", "Upgrade"},
           {"Keep-Alive", "timeout=5"},
           {"Proxy-Connection", "keep-alive"},
           {"TE", "trailers"},
           {"Trailer", "X-Checksum"},
           {"Transfer-Encoding", "chunked"},
           {"Upgrade", "websocket"},
           {"Proxy-Authorization", "Basic YWxpY2U6c2VjcmV0"},
           {"Proxy-Authenticate", "Basic realm=\"x\""},
           {"X-Secret", "1"},
           {"X-Other", "2"},
           {"Accept", "*/*"},
           {"Content-Length", "5"},
           {"User-Agent", "curl"}};
  EXPECT_EQ(strip_hop_by_hop(f), 12u);
  EXPECT_EQ(names(f), (std::vector<std::string>{"Host", "Accept", "Content-Length", "User-Agent"}));
}

TEST(HttpRewrite, ProxyConnectionNamesAreHopByHopToo) {
  Fields f{{"Proxy-Connection", "X-Legacy"}, {"X-Legacy", "1"}, {"X-Keep", "2"}};
  strip_hop_by_hop(f);
  EXPECT_EQ(names(f), (std::vector<std::string>{"X-Keep"}));
}

TEST(HttpRewrite, ConnectionNamingThousandsOfFieldsDropsExactlyThose) {
  // Every odd field is named in Connection (in another case, in reverse order); the even ones stay.
  std::vector<std::string> names;
  for (int i = 0; i < 4000; ++i) names.push_back("X-Field-" + std::to_string(i));
  std::string list;
  for (int i = 3999; i >= 0; i -= 2) {
    std::string upper = names[static_cast<std::size_t>(i)];
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    list += upper + ", ";
  }
  Fields f{{"Connection", list}};
  for (auto& n : names) f.push_back({n, "v"});
  EXPECT_EQ(strip_hop_by_hop(f), 2001u);
  ASSERT_EQ(f.size(), 2000u);
  for (std::size_t i = 0; i < f.size(); ++i) EXPECT_EQ(f[i].name, names[2 * i]);
}

TEST(HttpRewrite, ViaAppendsOrStaysOff) {
  HeaderSection f;
  append_via(f, "1.1 hopgate");
  EXPECT_EQ(f.fields, (Fields{{"Via", "1.1 hopgate"}}));
  HeaderSection g(Fields{{"Via", "1.0 fred"}, {"via", "1.1 p.example.net"}});
  append_via(g, "1.1 hopgate");
  EXPECT_EQ(g.fields[1].value, "1.1 p.example.net, 1.1 hopgate");
  EXPECT_EQ(g.fields[0].value, "1.0 fred");
  HeaderSection h(Fields{{"A", "b"}});
  append_via(h, "");
  EXPECT_EQ(h.fields.size(), 1u);
}

TEST(HttpRewrite, ForwardedFor) {
  HeaderSection f;
  append_forwarded_for(f, "10.0.0.1");
  EXPECT_EQ(f.fields, (Fields{{"X-Forwarded-For", "10.0.0.1"}}));
  append_forwarded_for(f, "::1");
  EXPECT_EQ(f.fields[0].value, "10.0.0.1, ::1");
}

TEST(HttpRewrite, ASectionEditsViewsOfTheReceivedTextAndKeepsWhatItMakes) {
  // The rewrite copies nothing that passes through: the fields left still view the text they
  // were parsed from, and the values made for the rewrite stay valid as more are made.
  std::string received = "Accept: */*\r\nVia: 1.0 fred\r\nConnection: keep-alive\r\n";
  std::string_view text = received;
  HeaderSection s(Fields{{text.substr(0, 6), text.substr(8, 3)},
                         {text.substr(13, 3), text.substr(18, 8)},
                         {text.substr(28, 10), text.substr(40, 10)}});
  ASSERT_EQ(s.fields[2], (Field{"Connection", "keep-alive"}));
  error_code ec;
  auto t = parse_absolute_target("http://example.com:8080/", ec);
  ASSERT_TRUE(t);
  rewrite_request(s, *t, RewriteOptions{"1.1 hopgate", true, "192.0.2.7"});
  for (int i = 0; i < 100; ++i) append_forwarded_for(s, "198.51.100.1"); // many made values
  ASSERT_EQ(s.fields.size(), 4u);
  EXPECT_EQ(s.fields[0], (Field{"Host", "example.com:8080"}));
  EXPECT_EQ(s.fields[1].value.data(), received.data() + 8); // Accept: still the received bytes
  EXPECT_EQ(s.fields[2], (Field{"Via", "1.0 fred, 1.1 hopgate"}));
  EXPECT_TRUE(s.fields[3].value.starts_with("192.0.2.7, 198.51.100.1, "));
  std::string out = "kept ";
  append_request_head(out, "GET", "/", s.fields);
  EXPECT_TRUE(out.starts_with("kept GET / HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nVia: 1.0 fred, 1.1 hopgate\r\n"));
  s.clear();
  EXPECT_TRUE(s.fields.empty());
  rewrite_response(s, "1.1 hopgate");
  EXPECT_EQ(s.fields, (Fields{{"Via", "1.1 hopgate"}}));
  // The next message made in the same section: its own values, none of the last one's.
  s.clear();
  auto u = parse_absolute_target("http://b.example/", ec);
  ASSERT_TRUE(u);
  s.fields = {{"Via", "1.0 x"}};
  rewrite_request(s, *u, RewriteOptions{"1.1 hopgate", true, "::1"});
  EXPECT_EQ(s.fields, (Fields{{"Host", "b.example"}, {"Via", "1.0 x, 1.1 hopgate"}, {"X-Forwarded-For", "::1"}}));
}

TEST(HttpRewrite, HostComesFromTheUri) {
  Fields f{{"Accept", "*/*"}, {"Host", "evil.example"}, {"host", "other"}};
  set_host(f, "example.com:8080");
  EXPECT_EQ(f, (Fields{{"Host", "example.com:8080"}, {"Accept", "*/*"}}));
}

TEST(HttpRewrite, RewriteRequestDefaultsAndOptions) {
  error_code ec;
  auto t = parse_absolute_target("http://[::1]:8080/x", ec);
  ASSERT_TRUE(t);
  Fields received{{"Host", "wrong"}, {"Proxy-Connection", "keep-alive"}, {"Proxy-Authorization", "Basic eDp5"},
                  {"Accept", "*/*"}, {"X-Forwarded-For", "1.2.3.4"}};
  HeaderSection f(received), g(received);
  rewrite_request(f, *t, RewriteOptions{"1.1 hopgate", false, "127.0.0.1"});
  EXPECT_EQ(f.fields, (Fields{{"Host", "[::1]:8080"}, {"Accept", "*/*"}, {"X-Forwarded-For", "1.2.3.4"}, {"Via", "1.1 hopgate"}}));
  rewrite_request(g, *t, RewriteOptions{"", true, "127.0.0.1"});
  EXPECT_EQ(g.fields, (Fields{{"Host", "[::1]:8080"}, {"Accept", "*/*"}, {"X-Forwarded-For", "1.2.3.4, 127.0.0.1"}}));

  t = parse_absolute_target("http://example.com/", ec);
  ASSERT_TRUE(t);
  HeaderSection h;
  rewrite_request(h, *t, {});
  EXPECT_EQ(h.fields, (Fields{{"Host", "example.com"}})); // default port left out
}

TEST(HttpRewrite, RewriteResponse) {
  HeaderSection f(Fields{{"Connection", "close, X-Hop"}, {"X-Hop", "1"}, {"Content-Type", "text/plain"}, {"Keep-Alive", "timeout=1"}});
  rewrite_response(f, "1.1 hopgate");
  EXPECT_EQ(f.fields, (Fields{{"Content-Type", "text/plain"}, {"Via", "1.1 hopgate"}}));
}

TEST(HttpRewrite, FramingOfRequests) {
  error_code ec;
  auto fr = check_framing({}, true, ec);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->kind, Framing::Kind::none);

  fr = check_framing({{"Content-Length", "42"}}, true, ec);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->kind, Framing::Kind::length);
  EXPECT_EQ(fr->length, 42u);

  fr = check_framing({{"Content-Length", "7"}, {"content-length", "7"}}, true, ec); // identical duplicates
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->length, 7u);
  fr = check_framing({{"Content-Length", "7, 7"}}, true, ec);
  ASSERT_TRUE(fr);

  fr = check_framing({{"Transfer-Encoding", "chunked"}}, true, ec);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->kind, Framing::Kind::chunked);
  fr = check_framing({{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "Chunked"}}, true, ec);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->kind, Framing::Kind::chunked);
}

TEST(HttpRewrite, SmugglingIsRefused) {
  struct Case {
    const char* what;
    Fields fields;
    HttpError error;
  };
  const Case cases[] = {
      {"CL+TE", {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}, HttpError::length_and_encoding},
      {"TE+CL", {{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}, HttpError::length_and_encoding},
      {"TE gzip + CL", {{"Transfer-Encoding", "gzip"}, {"Content-Length", "5"}}, HttpError::length_and_encoding},
      {"differing CL", {{"Content-Length", "5"}, {"Content-Length", "6"}}, HttpError::conflicting_content_length},
      {"differing CL list", {{"Content-Length", "5, 6"}}, HttpError::conflicting_content_length},
      {"CL not a number", {{"Content-Length", "5x"}}, HttpError::bad_content_length},
      {"CL negative", {{"Content-Length", "-1"}}, HttpError::bad_content_length},
      {"CL empty", {{"Content-Length", ""}}, HttpError::bad_content_length},
      {"CL plus", {{"Content-Length", "+5"}}, HttpError::bad_content_length},
      {"CL overflow", {{"Content-Length", "99999999999999999999999"}}, HttpError::bad_content_length},
      {"TE not chunked", {{"Transfer-Encoding", "gzip"}}, HttpError::bad_transfer_encoding},
      {"TE chunked not last", {{"Transfer-Encoding", "chunked, gzip"}}, HttpError::bad_transfer_encoding},
      {"TE chunked twice", {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}, HttpError::bad_transfer_encoding},
      {"TE empty", {{"Transfer-Encoding", ""}}, HttpError::bad_transfer_encoding},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    error_code ec;
    EXPECT_FALSE(check_framing(c.fields, true, ec));
    EXPECT_EQ(ec, err(c.error)) << ec.message();
  }
}

TEST(HttpRewrite, FramingOfResponses) {
  error_code ec;
  auto fr = check_framing({}, false, ec);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->kind, Framing::Kind::until_close);
  fr = check_framing({{"Transfer-Encoding", "gzip"}}, false, ec); // no chunked: the body runs until close
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->kind, Framing::Kind::until_close);
  EXPECT_FALSE(check_framing({{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}, false, ec));
  EXPECT_EQ(ec, err(HttpError::length_and_encoding));
}

TEST(HttpRewrite, Serialisation) {
  Fields f{{"Host", "example.com"}, {"Accept", "*/*"}};
  EXPECT_EQ(serialize_request_head("GET", "/x?y", f), "GET /x?y HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(serialize_response_head(204, "No Content", {}), "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(HttpRewrite, ProxyReplies) {
  auto r = proxy_reply(502, "upstream tor: host unreachable", true);
  std::string body = "502 Bad Gateway: upstream tor: host unreachable\n";
  EXPECT_EQ(r, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  r = proxy_reply(407, "proxy authentication required", false, false, {{"Proxy-Authenticate", "Basic realm=\"hopgate\""}});
  EXPECT_NE(r.find("HTTP/1.1 407 Proxy Authentication Required\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nProxy-Authenticate: Basic realm=\"hopgate\"\r\n"), std::string::npos);
  EXPECT_EQ(r.find("Connection:"), std::string::npos);
  r = proxy_reply(403, "", false, true);
  EXPECT_NE(r.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  EXPECT_TRUE(r.ends_with("\r\n\r\n403 Forbidden\n"));
  for (unsigned s : {400u, 403u, 405u, 407u, 408u, 431u, 501u, 502u, 503u, 504u, 505u})
    EXPECT_NE(reason_phrase(s), "Error") << s;
}

} // namespace
