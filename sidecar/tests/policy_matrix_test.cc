// Built-in rules vs conf/policy/realm_auth.rego served by a real OPA
// (`opa run --server`, started by with_opa.sh, URL in OPA_URL): the
// generated matrix of actors × actions × resource types × tenants ×
// purposes must give the same decision — allow and reason — from both.
#include <curl/curl.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "builtin_policy.h"
#include "governance_test.h"

using namespace realm_sidecar;

namespace {

std::string g_opa;  // http://127.0.0.1:<port>

size_t discard(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }

bool opa_healthy() {
  CURL* c = curl_easy_init();
  if (!c) return false;
  std::string url = g_opa + "/health";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return status == 200;
}

int wait_for_opa(void**) {
  const char* pid = getenv("OPA_PID");
  for (int i = 0; i < 300; ++i) {
    if (opa_healthy()) return 0;
    if (pid && kill(static_cast<pid_t>(atoi(pid)), 0) != 0) break;  // OPA exited
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  print_error("OPA at %s did not become healthy\n", g_opa.c_str());
  return -1;
}

void test_matrix_parity(void**) {
  auto opa = make_remote_policy(g_opa + "/v1/data/realm_auth/decision", 5000);
  auto builtin = make_builtin_policy();
  int total = 0, allowed = 0, allow_mismatch = 0, reason_mismatch = 0;
  std::map<std::string, int> allows_by_action;
  auto start = std::chrono::steady_clock::now();
  for (const auto& c : test::decision_matrix()) {
    Decision b = builtin->authorize(c.request);
    Decision o = opa->authorize(c.request);
    ++total;
    if (b.allow) {
      ++allowed;
      ++allows_by_action[c.request.action];
    }
    if (b.allow != o.allow) {
      if (++allow_mismatch <= 20) {
        print_error("ALLOW MISMATCH %s: builtin %d \"%s\", opa %d \"%s\"\n", c.label.c_str(),
                    b.allow, b.reason.c_str(), o.allow, o.reason.c_str());
      }
    } else if (b.reason != o.reason) {
      if (++reason_mismatch <= 20) {
        print_error("reason mismatch %s: builtin \"%s\", opa \"%s\"\n", c.label.c_str(),
                    b.reason.c_str(), o.reason.c_str());
      }
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  print_message(
      "matrix: %d requests (%zu actors x %zu actions x 6 types x 3 tenants x 3 purposes), "
      "%d allowed, %d denied; allow mismatches %d, reason mismatches %d; %lld ms "
      "(%.2f ms per OPA decision)\n",
      total, test::matrix_actors().size(), test::matrix_actions().size(), allowed, total - allowed,
      allow_mismatch, reason_mismatch, static_cast<long long>(ms),
      total ? static_cast<double>(ms) / total : 0.0);
  for (const auto& [action, n] : allows_by_action) {
    print_message("  allowed %-14s %d\n", action.c_str(), n);
  }
  assert_int_equal(allow_mismatch, 0);
  assert_int_equal(reason_mismatch, 0);
  assert_true(allowed > 0);
}

// Through OPA, the fail-closed paths of the client with a real server.
void test_opa_undefined_path_denies(void**) {
  auto pdp = make_remote_policy(g_opa + "/v1/data/realm_auth/no_such_rule", 5000);
  Decision d = pdp->authorize(test::request(test::actor("platform", {"platform_admin"}),
                                            "tenant.create", "tenant", "newco"));
  assert_false(d.allow);
  assert_non_null(strstr(d.reason.c_str(), "no \"result\""));
  // The "allow" shortcut rule is a boolean, not a decision object.
  pdp = make_remote_policy(g_opa + "/v1/data/realm_auth/allow", 5000);
  assert_false(pdp->authorize(test::request(test::actor("platform", {"platform_admin"}),
                                            "tenant.create", "tenant", "newco"))
                   .allow);
}

}  // namespace

int main() {
  const char* url = getenv("OPA_URL");
  if (!url || !*url) {
    fprintf(stderr, "OPA_URL not set: run through with_opa.sh (skipped)\n");
    return 77;
  }
  g_opa = url;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matrix_parity),
      cmocka_unit_test(test_opa_undefined_path_denies),
  };
  // No curl_global_cleanup(): the policy client's thread_local handle is
  // released after main returns.
  return cmocka_run_group_tests(tests, wait_for_opa, nullptr);
}
