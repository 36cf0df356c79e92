#include "health/probes.h"

#include <poll.h>

#include <chrono>
#include <memory>
#include <utility>

#include "http_fetch.h"
#include "store/pg.h"

namespace realm_sidecar {

namespace {

// libpq's messages end in a newline and may span lines; one line for JSON.
std::string one_line(std::string s) {
  for (char& ch : s) {
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  }
  // Runs of spaces (libpq indents its continuation lines) become one.
  std::string out;
  for (char ch : s) {
    if (ch != ' ' || (!out.empty() && out.back() != ' ')) out += ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A frozen server keeps the connection open and never answers: the query
// is sent without blocking and waited for with poll(), so the probe ends
// after `timeout_ms` whatever the server does.
constexpr int kQueryTimeoutMs = 2000;

bool select_one(PGconn* c, int timeout_ms, std::string& why) {
  if (PQsendQuery(c, "SELECT 1") == 0) {
    why = one_line(PQerrorMessage(c));
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool ok = false;
  while (true) {
    if (PQconsumeInput(c) == 0) {
      why = one_line(PQerrorMessage(c));
      return false;
    }
    if (PQisBusy(c) == 0) {
      PgResultPtr res(PQgetResult(c));
      if (!res) break;  // all results read
      ok = PQresultStatus(res.get()) == PGRES_TUPLES_OK;
      if (!ok) why = one_line(PQresultErrorMessage(res.get()));
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd p{PQsocket(c), POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) == 0) {
      why = "no answer within " + std::to_string(timeout_ms) + " ms";
      return false;
    }
  }
  return ok;
}

}  // namespace

Dependency postgres_dependency(std::string conninfo) {
  auto conn = std::make_shared<PgConnPtr>();
  return Dependency{
      "postgresql", [conninfo = std::move(conninfo), conn]() {
        if (!*conn || PQstatus(conn->get()) != CONNECTION_OK) {
          const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
          const char* values[] = {"2", "realm-sidecar readyz", conninfo.c_str(), nullptr};
          conn->reset(PQconnectdbParams(keys, values, 1));
          if (!*conn || PQstatus(conn->get()) != CONNECTION_OK) {
            std::string why = *conn ? one_line(PQerrorMessage(conn->get())) : "out of memory";
            conn->reset();
            return ProbeResult{false, "cannot connect: " + why};
          }
        }
        std::string why;
        if (!select_one(conn->get(), kQueryTimeoutMs, why)) {
          conn->reset();
          return ProbeResult{false, "SELECT 1 failed: " + why};
        }
        return ProbeResult{true, ""};
      }};
}

Dependency keycloak_dependency(std::string keycloak_url, long timeout_ms) {
  return Dependency{
      "keycloak", [url = keycloak_url + "/realms/master", timeout_ms]() {
        realm_auth::HttpCall call;
        call.url = url;
        call.timeout_ms = timeout_ms;
        call.max_body = 64 * 1024;
        call.user_agent = "realm-sidecar readyz";
        realm_auth::HttpAnswer a = realm_auth::http_call(call);
        if (a.failure == realm_auth::HttpAnswer::Failure::kTimeout) {
          return ProbeResult{
              false, "no answer from " + url + " within " + std::to_string(timeout_ms) + " ms"};
        }
        if (!a.transported()) {
          return ProbeResult{false, "unreachable (" + url + "): " + a.error};
        }
        if (a.status != 200) {
          return ProbeResult{false, "HTTP status " + std::to_string(a.status) + " from " + url};
        }
        return ProbeResult{true, ""};
      }};
}

Dependency redis_dependency(realm_auth::RedisEndpoint endpoint) {
  auto client = std::make_shared<realm_auth::RedisClient>(std::move(endpoint));
  return Dependency{"redis", [client]() {
                      if (client->ping()) return ProbeResult{true, ""};
                      return ProbeResult{false, client->error()};
                    }};
}

Dependency policy_dependency(PolicyDecisionPoint& pdp) {
  return Dependency{"policy", [&pdp]() {
                      std::string why;
                      if (pdp.answers(why)) return ProbeResult{true, ""};
                      return ProbeResult{false, why};
                    }};
}

}  // namespace realm_sidecar
