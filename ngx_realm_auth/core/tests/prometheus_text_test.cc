// The Prometheus text writer: escaping of label values and HELP text,
// numbers as Go spells them (what the parsers expect), the histogram's
// cumulative buckets with +Inf = _count, and the Accept rule.
#include "prometheus_text.h"

#include <string>

#include "cmocka_cxx.h"

using realm_auth::accept_wants_prometheus;
using realm_auth::PromText;

namespace {

void escapes(void**) {
  assert_string_equal(PromText::escape_label("a\\b\"c\nd").c_str(), "a\\\\b\\\"c\\nd");
  assert_string_equal(PromText::escape_help("x\\y\nz\"").c_str(), "x\\\\y\\nz\"");
  PromText p;
  p.family("t_total", "counter", "two\nlines");
  p.sample("t_total", {{"k", "v\"1"}}, uint64_t{3});
  assert_string_equal(
      p.text().c_str(),
      "# HELP t_total two\\nlines\n# TYPE t_total counter\nt_total{k=\"v\\\"1\"} 3\n");
}

void numbers(void**) {
  PromText p;
  p.sample("g", {}, 10.0);
  p.sample("g", {}, 0.1);
  p.sample("g", {}, 0.0025);
  p.sample("g", {}, 1e20);
  p.sample("g", {}, -2.5);
  assert_string_equal(p.text().c_str(), "g 10\ng 0.1\ng 0.0025\ng 1e+20\ng -2.5\n");
}

void histogram(void**) {
  const double bounds[] = {0.5, 1};
  const uint64_t counts[] = {2, 0, 3};  // per bucket; the last above every bound
  PromText p;
  p.histogram("h_seconds", {{"r", "ok"}}, bounds, counts, 2, 7.25);
  assert_string_equal(p.text().c_str(),
                      "h_seconds_bucket{r=\"ok\",le=\"0.5\"} 2\n"
                      "h_seconds_bucket{r=\"ok\",le=\"1\"} 2\n"
                      "h_seconds_bucket{r=\"ok\",le=\"+Inf\"} 5\n"
                      "h_seconds_sum{r=\"ok\"} 7.25\n"
                      "h_seconds_count{r=\"ok\"} 5\n");
}

void accept(void**) {
  assert_true(accept_wants_prometheus(
      "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"));
  assert_true(accept_wants_prometheus("Text/Plain"));
  assert_false(accept_wants_prometheus("*/*"));
  assert_false(accept_wants_prometheus("application/json"));
  assert_false(accept_wants_prometheus(""));
  assert_false(accept_wants_prometheus("text/plain;q=0, application/json"));
  assert_false(accept_wants_prometheus("text/plainx, text/html"));
  assert_true(accept_wants_prometheus("application/json;q=0.9, text/plain ; q=0.5"));
  assert_false(accept_wants_prometheus(
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(escapes),
      cmocka_unit_test(numbers),
      cmocka_unit_test(histogram),
      cmocka_unit_test(accept),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
