/* Benchmarks only, never installed: the floor under any JWT check in nginx.
 * `bench_floor_rsa KEY.pem;` in a location makes its access phase do the
 * two things a never-seen RS256 token cannot avoid, and nothing else: the
 * SHA-256 of the token's signing input and OpenSSL's RSA-2048 verify of its
 * signature (EVP_PKEY_verify on a context prepared once, as `openssl speed`
 * measures it). No claims, no issuer, no cache: a token is let through when
 * its signature verifies. bench/parts/15-hot-path.sh measures it beside the
 * module, same client, same tokens, same core, so the limit it gives
 * includes what the arithmetic sum (nginx alone + `openssl speed`) leaves
 * out: the cost of running RSA between requests rather than in a loop, and
 * of a server slower than its client (it wakes the client more often). */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

typedef struct {
  EVP_PKEY_CTX *verify; /* NULL: off */
} floor_loc_conf_t;

static const EVP_MD *floor_md;

static ngx_int_t floor_init(ngx_conf_t *cf);
static void *floor_create_loc_conf(ngx_conf_t *cf);
static char *floor_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *floor_set_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

static ngx_command_t floor_commands[] = {
    {ngx_string("bench_floor_rsa"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, floor_set_key,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    ngx_null_command};

static ngx_http_module_t floor_ctx = {
    NULL, floor_init, NULL, NULL, NULL, NULL, floor_create_loc_conf, floor_merge_loc_conf};

ngx_module_t ngx_http_bench_floor_module = {NGX_MODULE_V1,
                                             &floor_ctx,
                                             floor_commands,
                                             NGX_HTTP_MODULE,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NULL,
                                             NGX_MODULE_V1_PADDING};

static int b64url_value(u_char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

static ngx_int_t floor_handler(ngx_http_request_t *r) {
  floor_loc_conf_t *lcf = ngx_http_get_module_loc_conf(r, ngx_http_bench_floor_module);
  if (lcf->verify == NULL) return NGX_DECLINED;
  ngx_table_elt_t *h = r->headers_in.authorization;
  if (h == NULL || h->value.len < 8 || ngx_strncmp(h->value.data, "Bearer ", 7) != 0) {
    return NGX_HTTP_UNAUTHORIZED;
  }
  u_char *token = h->value.data + 7;
  size_t len = h->value.len - 7;
  u_char *dot = memrchr(token, '.', len);
  if (dot == NULL) return NGX_HTTP_UNAUTHORIZED;
  u_char sig[1024];
  size_t n = 0, bits = 0;
  uint32_t acc = 0;
  for (u_char *p = dot + 1; p < token + len; p++) {
    int v = b64url_value(*p);
    if (v < 0 || n >= sizeof sig) return NGX_HTTP_UNAUTHORIZED;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      sig[n++] = (u_char)(acc >> bits);
    }
  }
  u_char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(token, (size_t)(dot - token), digest, &digest_len, floor_md, NULL) != 1 ||
      EVP_PKEY_verify(lcf->verify, sig, n, digest, digest_len) != 1) {
    return NGX_HTTP_UNAUTHORIZED;
  }
  return NGX_DECLINED;
}

static void *floor_create_loc_conf(ngx_conf_t *cf) {
  return ngx_pcalloc(cf->pool, sizeof(floor_loc_conf_t));
}

static char *floor_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child) {
  (void)cf;
  floor_loc_conf_t *prev = parent, *conf = child;
  if (conf->verify == NULL) conf->verify = prev->verify;
  return NGX_CONF_OK;
}

static char *floor_set_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf) {
  (void)cmd;
  floor_loc_conf_t *lcf = conf;
  ngx_str_t *args = cf->args->elts;
  char path[4096];
  if (args[1].len >= sizeof path) return "path too long";
  ngx_memcpy(path, args[1].data, args[1].len);
  path[args[1].len] = '\0';
  FILE *f = fopen(path, "r");
  if (f == NULL) return "cannot open the key";
  EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
  fclose(f);
  if (key == NULL) return "not a PEM public key";
  floor_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  lcf->verify = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  EVP_PKEY_free(key); /* the context holds its own reference */
  if (floor_md == NULL || lcf->verify == NULL || EVP_PKEY_verify_init(lcf->verify) != 1 ||
      EVP_PKEY_CTX_set_signature_md(lcf->verify, floor_md) != 1) {
    return "cannot prepare the verify";
  }
  return NGX_CONF_OK;
}

static ngx_int_t floor_init(ngx_conf_t *cf) {
  ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
  ngx_http_handler_pt *h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
  if (h == NULL) return NGX_ERROR;
  *h = floor_handler;
  return NGX_OK;
}

/* What load_module looks for (configure --add-dynamic-module generates it). */
ngx_module_t *ngx_modules[] = {&ngx_http_bench_floor_module, NULL};
char *ngx_module_names[] = {"ngx_http_bench_floor_module", NULL};
char *ngx_module_order[] = {NULL};
