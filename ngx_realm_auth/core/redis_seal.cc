#include "redis_seal.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <chrono>
#include <fstream>

#include "ossl.h"

namespace realm_auth {

namespace {

constexpr char kVersion[] = "ra1";

std::string hex(const unsigned char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; i++) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 0xf];
  }
  return out;
}

// The authenticated message: every field, the key length-prefixed so that
// no two (key, fields, payload) tuples share a message.
std::string message(const std::string& key, const std::string& kid, int64_t issued_ms,
                    int64_t expires_ms, const std::string& payload) {
  std::string m;
  m.reserve(key.size() + payload.size() + 64);
  m.append(kVersion).append("\n");
  m.append(std::to_string(key.size())).append("\n").append(key).append("\n");
  m.append(kid).append("\n");
  m.append(std::to_string(issued_ms)).append("\n");
  m.append(std::to_string(expires_ms)).append("\n");
  m.append(payload);
  return m;
}

std::string mac(const SealKey& k, const std::string& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(ossl::sha256(), k.secret.data(), static_cast<int>(k.secret.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len) == nullptr) {
    return std::string();
  }
  return hex(out, len);
}

// A non-negative decimal of at most 18 digits (fits int64_t).
bool parse_ms(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

SealKey make_seal_key(std::string secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  SealKey k;
  if (EVP_Digest(secret.data(), secret.size(), digest, &len, ossl::sha256(), nullptr) == 1) {
    k.id = hex(digest, 4);
  }
  k.secret = std::move(secret);
  return k;
}

bool read_secret_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  std::string text;
  char buf[4097];
  in.read(buf, sizeof buf);
  text.assign(buf, static_cast<size_t>(in.gcount()));
  OPENSSL_cleanse(buf, sizeof buf);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  if (text.empty() || text.size() > 4096) {
    OPENSSL_cleanse(&text[0], text.size());
    error = path + (text.empty() ? " is empty" : " is larger than 4 KiB");
    return false;
  }
  out = std::move(text);
  return true;
}

bool load_seal_key(const std::string& path, SealKey& out, std::string& error) {
  std::string secret;
  if (!read_secret_file(path, secret, error)) return false;
  if (secret.size() < kMinSealSecret) {
    OPENSSL_cleanse(&secret[0], secret.size());
    error = "key file " + path + " holds fewer than " + std::to_string(kMinSealSecret) + " bytes";
    return false;
  }
  out = make_seal_key(std::move(secret));
  if (out.id.empty()) {
    error = "cannot derive the id of key file " + path;
    return false;
  }
  return true;
}

std::string seal_value(const SealKeys& keys, const std::string& key, const std::string& payload,
                       int64_t issued_ms, int64_t expires_ms) {
  if (keys.empty()) return std::string();
  const SealKey& k = keys.front();
  std::string m = mac(k, message(key, k.id, issued_ms, expires_ms, payload));
  if (m.empty()) return std::string();
  std::string out;
  out.reserve(payload.size() + kSealOverhead);
  out.append(kVersion).append(".").append(k.id).append(".");
  out.append(std::to_string(issued_ms)).append(".").append(std::to_string(expires_ms));
  out.append(".").append(m).append(".").append(payload);
  return out;
}

bool open_value(const SealKeys& keys, const std::string& key, const std::string& stored,
                int64_t now_ms, OpenedValue& out, std::string& why) {
  // Five dot-separated header fields, then the payload (which may hold dots).
  std::string fields[5];
  size_t pos = 0;
  for (std::string& f : fields) {
    size_t dot = stored.find('.', pos);
    if (dot == std::string::npos || dot - pos > 64) {
      why = "not sealed";
      return false;
    }
    f.assign(stored, pos, dot - pos);
    pos = dot + 1;
  }
  int64_t issued = 0, expires = 0;
  if (fields[0] != kVersion || !parse_ms(fields[2], issued) || !parse_ms(fields[3], expires) ||
      fields[4].size() != 64) {
    why = "not sealed";
    return false;
  }
  const SealKey* k = nullptr;
  for (const SealKey& candidate : keys) {
    if (candidate.id == fields[1]) k = &candidate;
  }
  if (k == nullptr) {
    why = "unknown key id";
    return false;
  }
  std::string payload = stored.substr(pos);
  std::string want = mac(*k, message(key, k->id, issued, expires, payload));
  if (want.size() != 64 || CRYPTO_memcmp(want.data(), fields[4].data(), 64) != 0) {
    why = "bad authenticator";
    return false;
  }
  if (expires != 0 && now_ms >= expires) {
    why = "expired";
    return false;
  }
  out.payload = std::move(payload);
  out.issued_ms = issued;
  out.expires_ms = expires;
  return true;
}

int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace realm_auth
