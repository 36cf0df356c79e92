// Issuer allowlist: pattern validation, byte-for-byte matching and the
// URL tricks that must never match.
#include "issuer.h"

#include <string>
#include <vector>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

IssuerPattern pattern(const char* text) {
  IssuerPattern p;
  std::string error;
  if (!IssuerPattern::parse(text, p, error))
    fail_msg("pattern %s refused: %s", text, error.c_str());
  return p;
}

void valid_patterns(void**) {
  for (const char* text :
       {"http://localhost:8080/realms/tenant-*", "https://sso.example.com/realms/platform",
        "https://sso.example.com/auth/realms/tenant-*", "http://127.0.0.1/realms/t*",
        "http://[::1]:8080/realms/platform"}) {
    IssuerPattern p = pattern(text);
    assert_string_equal(p.text().c_str(), text);
  }
}

void invalid_patterns(void**) {
  const char* bad[] = {
      "",
      "localhost:8080/realms/tenant-*",            // no scheme
      "ftp://localhost/realms/tenant-*",           // not http(s)
      "HTTP://localhost/realms/tenant-*",          // scheme spelled oddly
      "http:///realms/tenant-*",                   // no host
      "http://user@localhost/realms/tenant-*",     // userinfo
      "http://user:pw@localhost/realms/platform",  // userinfo
      "http://localhost/realms/tenant-*?x=1",      // query
      "http://localhost/realms/platform?x=1",      // query
      "http://localhost/realms/platform#f",        // fragment
      "http://localhost/realms/tenant%2d*",        // percent-escape
      "http://localhost/realms/platform/",         // trailing slash
      "http://localhost/realms/",                  // no realm name
      "http://localhost/platform",                 // no /realms/
      "http://localhost",                          // no path
      "http://localhost/realms/*",                 // no prefix before '*'
      "http://localhost/realms/ten*ant",           // '*' inside the name
      "http://localhost/realms/tenant-*/x",        // '*' not in the last segment
      "http://local*host/realms/tenant-*",         // '*' in the host
      "http://localhost/*/realms/tenant-x",        // '*' in the base path
      "http://localhost/realms/tenant-**",         // two stars
      "http://localhost//realms/tenant-*",         // empty segment
      "http://localhost/./realms/tenant-*",        // dot segment
      "http://localhost/a/../realms/tenant-*",     // dot-dot segment
      "http://localhost/realms/ten ant-*",         // space
      "http://local host/realms/tenant-*",         // space in host
      "http://localhost\\@evil/realms/tenant-*",   // backslash
  };
  for (const char* text : bad) {
    IssuerPattern p;
    std::string error;
    if (IssuerPattern::parse(text, p, error)) fail_msg("pattern accepted: %s", text);
    assert_false(error.empty());
  }
}

void wildcard_match(void**) {
  IssuerPattern p = pattern("http://localhost:8080/realms/tenant-*");
  IssuerMatch m;
  assert_true(p.match("http://localhost:8080/realms/tenant-demo", m));
  assert_string_equal(m.realm.c_str(), "tenant-demo");
  assert_string_equal(m.tenant_id.c_str(), "demo");
  assert_true(p.match("http://localhost:8080/realms/tenant-a-1", m));
  assert_string_equal(m.tenant_id.c_str(), "a-1");
  assert_string_equal(m.realm.c_str(), "tenant-a-1");
}

void exact_match(void**) {
  IssuerPattern p = pattern("http://localhost:8080/realms/platform");
  IssuerMatch m;
  m.tenant_id = "stale";
  assert_true(p.match("http://localhost:8080/realms/platform", m));
  assert_string_equal(m.realm.c_str(), "platform");
  assert_string_equal(m.tenant_id.c_str(), "");
  assert_false(p.match("http://localhost:8080/realms/platform2", m));
  assert_false(p.match("http://localhost:8080/realms/Platform", m));
  assert_false(p.match("http://localhost:8080/realms/platform/", m));
}

void issuer_tricks_never_match(void**) {
  IssuerPattern p = pattern("http://localhost:8080/realms/tenant-*");
  const char* tricks[] = {
      "http://localhost:8080/realms/tenant-demo/",             // trailing slash
      "http://localhost:8080/realms/tenant-Demo",              // uppercase slug
      "http://localhost:8080/realms/Tenant-demo",              // uppercase prefix
      "HTTP://localhost:8080/realms/tenant-demo",              // uppercase scheme
      "http://LOCALHOST:8080/realms/tenant-demo",              // uppercase host
      "http://localhost:8080/realms/tenant%2ddemo",            // escaped '-'
      "http://localhost:8080/realms/tenant-de%6do",            // escaped letter
      "http://localhost:8080/./realms/tenant-demo",            // dot segment
      "http://localhost:8080/realms/./tenant-demo",            // dot segment
      "http://localhost:8080/realms/tenant-x/../tenant-demo",  // dot-dot
      "http://localhost:8080//realms/tenant-demo",             // empty segment
      "http://user@localhost:8080/realms/tenant-demo",         // userinfo
      "http://localhost:8080@evil/realms/tenant-demo",         // userinfo the other way
      "http://localhost:8080/realms/tenant-demo?x=1",          // query
      "http://localhost:8080/realms/tenant-demo#x",            // fragment
      "http://localhost:8081/realms/tenant-demo",              // other port
      "http://localhost/realms/tenant-demo",                   // default port
      "https://localhost:8080/realms/tenant-demo",             // https vs http
      "http://localhost:8080/realms/tenant-",                  // empty slug
      "http://localhost:8080/realms/tenant--",                 // slug "-"
      "http://localhost:8080/realms/tenant--demo",             // slug starting with '-'
      "http://localhost:8080/realms/tenant-demo-",             // slug ending with '-'
      "http://localhost:8080/realms/tenant-de_mo",             // underscore
      "http://localhost:8080/realms/tenant-de.mo",             // dot
      "http://localhost:8080/realms/tenant-demo/x",            // extra segment
      "http://localhost:8080/realms/tenant-demo ",             // trailing space
      " http://localhost:8080/realms/tenant-demo",             // leading space
      "http://localhost:8080/realms/tenant-demo\n",            // newline
      "http://localhost:8080/realms/tenant-d\xc3\xa9mo",       // non-ASCII
      "http://localhost:8080/realms/tenant-",
      "",
  };
  IssuerMatch m;
  for (const char* iss : tricks) {
    if (p.match(iss, m)) fail_msg("matched: %s", iss);
  }
  const std::string nul("http://localhost:8080/realms/tenant-demo\0x", 43);
  assert_false(p.match(nul, m));
  // 64-character slug: longer than a DNS label.
  assert_false(p.match("http://localhost:8080/realms/tenant-" + std::string(64, 'a'), m));
  assert_true(p.match("http://localhost:8080/realms/tenant-" + std::string(63, 'a'), m));
}

void first_pattern_wins(void**) {
  std::vector<IssuerPattern> patterns = {pattern("http://kc/realms/tenant-*"),
                                         pattern("http://kc/realms/platform"),
                                         pattern("http://kc/realms/t*")};
  IssuerMatch m;
  assert_true(match_issuer(patterns, "http://kc/realms/tenant-acme", m));
  assert_string_equal(m.tenant_id.c_str(), "acme");
  assert_true(match_issuer(patterns, "http://kc/realms/platform", m));
  assert_string_equal(m.tenant_id.c_str(), "");
  assert_true(match_issuer(patterns, "http://kc/realms/tx", m));
  assert_string_equal(m.tenant_id.c_str(), "x");
  assert_false(match_issuer(patterns, "http://kc/realms/master", m));
  assert_false(match_issuer({}, "http://kc/realms/platform", m));
}

void slugs(void**) {
  for (const char* ok : {"a", "0", "demo", "a-b", "a--b", "x9", "9x"})
    assert_true(is_valid_slug(ok));
  assert_true(is_valid_slug(std::string(63, 'a')));
  for (const char* bad : {"", "-", "-a", "a-", "A", "aB", "a_b", "a.b", "a b", "é"}) {
    assert_false(is_valid_slug(bad));
  }
  assert_false(is_valid_slug(std::string(64, 'a')));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(valid_patterns),
      cmocka_unit_test(invalid_patterns),
      cmocka_unit_test(wildcard_match),
      cmocka_unit_test(exact_match),
      cmocka_unit_test(issuer_tricks_never_match),
      cmocka_unit_test(first_pattern_wins),
      cmocka_unit_test(slugs),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
