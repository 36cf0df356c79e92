#include "store/pg.h"

#include <utility>

namespace realm_sidecar {

namespace {

PgResult wrap(PGresult* raw, PGconn* conn) {
  PgResult r;
  r.res.reset(raw);
  if (raw == nullptr) {
    r.error = conn != nullptr ? PQerrorMessage(conn) : "no connection";
    r.sqlstate = "08006";  // connection_failure: callers map it to 503
    return r;
  }
  ExecStatusType st = PQresultStatus(raw);
  r.ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!r.ok) {
    const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    // A dropped connection yields a result without SQLSTATE.
    r.sqlstate = state != nullptr ? state : "08006";
    // The primary message only: the DETAIL field can quote row values.
    const char* msg = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
    r.error = msg != nullptr ? msg : PQresultErrorMessage(raw);
  }
  return r;
}

}  // namespace

PgSession::PgSession(PgPool* pool, PgConnPtr conn) : pool_(pool), conn_(std::move(conn)) {}

PgSession::PgSession(PgSession&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)) {
  other.pool_ = nullptr;
}

PgSession::~PgSession() {
  if (pool_ != nullptr) pool_->release(std::move(conn_));
}

bool PgSession::healthy() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

PgResult PgSession::exec(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const std::string*> p;
  p.reserve(params.size());
  for (const auto& s : params) p.push_back(&s);
  return exec_nullable(sql, p);
}

PgResult PgSession::exec_nullable(const std::string& sql,
                                  const std::vector<const std::string*>& params) {
  if (!conn_) return wrap(nullptr, nullptr);
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const std::string* s : params) {
    values.push_back(s != nullptr ? s->data() : nullptr);
    lengths.push_back(s != nullptr ? static_cast<int>(s->size()) : 0);
    // Text format; bytea travels as its hex text form ("\x…"), which the
    // callers build, so binary data never needs a separate code path.
    formats.push_back(0);
  }
  PGresult* res = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), lengths.data(), formats.data(), 0);
  return wrap(res, conn_.get());
}

PgPool::PgPool(std::string conninfo, int size) : conninfo_(std::move(conninfo)), size_(size) {
  // release() runs in ~PgSession: its push_back must never allocate (a
  // throwing destructor terminates). At most size_ connections are open.
  idle_.reserve(static_cast<size_t>(size_ > 0 ? size_ : 1));
}

PgSession PgPool::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  while (!idle_.empty()) {
    PgConnPtr c = std::move(idle_.back());
    idle_.pop_back();
    // A connection broken while idle (server restart) is replaced, not
    // handed out: the request would fail on its first statement otherwise.
    if (PQstatus(c.get()) == CONNECTION_OK) return PgSession(this, std::move(c));
    open_--;
  }
  open_++;
  lock.unlock();
  // Connect outside the lock: it can take up to connect_timeout.
  // Defaults first, then the configured conninfo expanded over them: a
  // bounded connect (PostgreSQL down → quick 503) unless the operator set
  // connect_timeout in DATABASE_URL.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "realm-sidecar", conninfo_.c_str(), nullptr};
  PgConnPtr c(PQconnectdbParams(keys, values, 1));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    std::lock_guard<std::mutex> g(mu_);
    open_--;
    cv_.notify_one();
    return PgSession(nullptr, nullptr);
  }
  return PgSession(this, std::move(c));
}

void PgPool::release(PgConnPtr conn) {
  std::lock_guard<std::mutex> g(mu_);
  if (conn && PQstatus(conn.get()) == CONNECTION_OK &&
      PQtransactionStatus(conn.get()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    // Broken, or left inside a transaction by an error path: close it rather
    // than let the next borrower inherit an open transaction.
    conn.reset();
    open_--;
  }
  cv_.notify_one();
}

}  // namespace realm_sidecar
