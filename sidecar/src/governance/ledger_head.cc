#include "ledger_head.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace realm_sidecar {

const char kLedgerHeadName[] = "realm-auth-ledger-head";

namespace {

// A sealed head is ~150 bytes; anything much larger is not one.
constexpr size_t kMaxHeadFile = 4096;

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Payload: "<seq> <row_hash>".
bool parse_payload(const std::string& p, LedgerHead& out) {
  const size_t sp = p.find(' ');
  if (sp == std::string::npos || sp == 0 || sp > 18) return false;
  int64_t seq = 0;
  for (size_t i = 0; i < sp; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    seq = seq * 10 + (p[i] - '0');
  }
  std::string hash = p.substr(sp + 1);
  if (seq <= 0 || !is_hex64(hash)) return false;
  out.seq = seq;
  out.row_hash = std::move(hash);
  return true;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

HeadRead read_ledger_head(const std::string& path, const LedgerKeys& keys, LedgerHead& out,
                          std::string& why) {
  Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return HeadRead::kMissing;
    why = "published head " + path + ": cannot be read (" + std::strerror(errno) + ")";
    return HeadRead::kInvalid;
  }
  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = "published head " + path + ": cannot be read (" + std::strerror(errno) + ")";
      return HeadRead::kInvalid;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxHeadFile) {
      why = "published head " + path + ": too large";
      return HeadRead::kInvalid;
    }
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  realm_auth::OpenedValue opened;
  std::string reason;
  if (!realm_auth::open_value(keys, kLedgerHeadName, text, realm_auth::unix_ms(), opened, reason)) {
    why = "published head " + path + ": " + reason;
    return HeadRead::kInvalid;
  }
  LedgerHead head;
  if (!parse_payload(opened.payload, head)) {
    why = "published head " + path + ": malformed";
    return HeadRead::kInvalid;
  }
  head.published_ms = opened.issued_ms;
  out = std::move(head);
  return HeadRead::kOk;
}

bool write_ledger_head(const std::string& path, const LedgerKeys& keys, const LedgerHead& head,
                       std::string& error) {
  if (keys.empty()) {
    error = "no ledger key to seal the head with";
    return false;
  }
  const std::string sealed = realm_auth::seal_value(
      keys, kLedgerHeadName, std::to_string(head.seq) + " " + head.row_hash, head.published_ms, 0);
  if (sealed.empty()) {
    error = "sealing the head failed";
    return false;
  }
  const std::string text = sealed + "\n";
  // Unique per process: the flock serializes writers, the name keeps a
  // crashed writer's leftover from being mistaken for a finished file.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    Fd f{open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f.fd < 0) {
      error = "cannot create " + tmp + ": " + std::strerror(errno);
      return false;
    }
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = write(f.fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = "cannot write " + tmp + ": " + std::strerror(errno);
        unlink(tmp.c_str());
        return false;
      }
      done += static_cast<size_t>(n);
    }
    if (fsync(f.fd) != 0) {
      error = "cannot fsync " + tmp + ": " + std::strerror(errno);
      unlink(tmp.c_str());
      return false;
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

LedgerHeadLock::LedgerHeadLock(const std::string& path) {
  fd_ = open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return;
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      close(fd_);
      fd_ = -1;
      return;
    }
  }
}

LedgerHeadLock::~LedgerHeadLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

}  // namespace realm_sidecar
