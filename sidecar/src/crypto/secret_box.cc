#include "crypto/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>

namespace realm_sidecar {

namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* u8(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string aad(const std::string& context) {
  return std::string(1, static_cast<char>(SecretBox::kVersion)) + context;
}

// Strict base64 of exactly 32 bytes (44 characters with one '=').
bool decode_base64_key(const std::string& text, std::string& key) {
  if (text.size() != 44) return false;
  unsigned char out[33];
  int n = EVP_DecodeBlock(out, u8(text), static_cast<int>(text.size()));
  if (n != 33 || text[43] != '=' || text[42] == '=') return false;
  key.assign(reinterpret_cast<char*>(out), SecretBox::kKeySize);
  OPENSSL_cleanse(out, sizeof out);
  return true;
}

}  // namespace

bool SecretBox::load_key_file(const std::string& path, std::unique_ptr<SecretBox>& out,
                              std::string& error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read SECRET_KEY_FILE " + path;
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  std::string key;
  if (text.size() == kKeySize) {
    key = text;
  } else {
    std::string trimmed = text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r'))
      trimmed.pop_back();
    if (!decode_base64_key(trimmed, key)) {
      OPENSSL_cleanse(&text[0], text.size());
      error = "SECRET_KEY_FILE " + path + " must hold 32 raw bytes or their base64 (44 characters)";
      return false;
    }
    OPENSSL_cleanse(&trimmed[0], trimmed.size());
  }
  OPENSSL_cleanse(&text[0], text.size());
  out = std::make_unique<SecretBox>(key);
  OPENSSL_cleanse(&key[0], key.size());
  return true;
}

SecretBox::SecretBox(const std::string& key) : key_(key) {}

SecretBox::~SecretBox() {
  if (!key_.empty()) OPENSSL_cleanse(&key_[0], key_.size());
}

bool SecretBox::seal(const std::string& plaintext, const std::string& context,
                     std::string& sealed) const {
  if (key_.size() != kKeySize) return false;
  unsigned char nonce[kNonceSize];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return false;
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string a = aad(context);
  std::string ct(plaintext.size() + 16, '\0');
  unsigned char tag[kTagSize];
  int len = 0, total = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, u8(key_), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(a), static_cast<int>(a.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(&ct[0]), &len, u8(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return false;
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(&ct[0]) + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    return false;
  }
  total += len;
  ct.resize(static_cast<size_t>(total));
  sealed.assign(1, static_cast<char>(kVersion));
  sealed.append(reinterpret_cast<char*>(nonce), kNonceSize);
  sealed += ct;
  sealed.append(reinterpret_cast<char*>(tag), kTagSize);
  return true;
}

bool SecretBox::open(const std::string& sealed, const std::string& context,
                     std::string& plaintext) const {
  if (key_.size() != kKeySize || sealed.size() < 1 + kNonceSize + kTagSize ||
      static_cast<uint8_t>(sealed[0]) != kVersion) {
    return false;
  }
  const unsigned char* nonce = u8(sealed) + 1;
  const size_t ct_len = sealed.size() - 1 - kNonceSize - kTagSize;
  const unsigned char* ct = nonce + kNonceSize;
  std::string tag = sealed.substr(sealed.size() - kTagSize);
  std::string a = aad(context);
  std::string pt(ct_len + 16, '\0');
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0, total = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, u8(key_), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(a), static_cast<int>(a.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(&pt[0]), &len, ct,
                        static_cast<int>(ct_len)) != 1) {
    return false;
  }
  total = len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, &tag[0]) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(&pt[0]) + total, &len) != 1) {
    // Authentication failed: nothing of the candidate plaintext escapes.
    OPENSSL_cleanse(&pt[0], pt.size());
    return false;
  }
  total += len;
  pt.resize(static_cast<size_t>(total));
  plaintext = std::move(pt);
  return true;
}

}  // namespace realm_sidecar
