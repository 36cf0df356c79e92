// libpq with RAII: a connection pool handing out one PGconn per request
// thread, and owned results. Every query is parameterized ($1, $2 …): no
// string-built SQL.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace realm_sidecar {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Result of one statement: ok when the status is COMMAND_OK or TUPLES_OK.
struct PgResult {
  PgResultPtr res;
  bool ok = false;
  std::string sqlstate;  // e.g. "23505" unique violation, "40001" serialization failure
  std::string error;     // libpq's message (never includes parameter values)
  int rows() const { return res ? PQntuples(res.get()) : 0; }
  std::string get(int row, int col) const {
    return res && !PQgetisnull(res.get(), row, col) ? PQgetvalue(res.get(), row, col) : "";
  }
  bool is_null(int row, int col) const { return !res || PQgetisnull(res.get(), row, col); }
};

// One borrowed connection; returns itself to the pool on destruction.
class PgSession {
 public:
  PgResult exec(const std::string& sql, const std::vector<std::string>& params = {});
  // NULL-able parameters: nullptr entries are sent as SQL NULL.
  PgResult exec_nullable(const std::string& sql, const std::vector<const std::string*>& params);
  bool healthy() const;
  PGconn* raw() { return conn_.get(); }

  PgSession(class PgPool* pool, PgConnPtr conn);
  PgSession(PgSession&&) noexcept;
  ~PgSession();

 private:
  class PgPool* pool_;
  PgConnPtr conn_;
};

class PgPool {
 public:
  // `conninfo` as libpq takes it; connections opened lazily, at most `size`.
  PgPool(std::string conninfo, int size);
  // Null session (raw()==nullptr) when PostgreSQL is unreachable: callers answer 503.
  PgSession acquire();
  void release(PgConnPtr conn);

 private:
  std::string conninfo_;
  int size_;
  int open_ = 0;
  std::vector<PgConnPtr> idle_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace realm_sidecar
