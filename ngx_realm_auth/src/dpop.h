// Sender-constrained tokens in the access phase: DPoP (RFC 9449) and
// certificate-bound tokens (RFC 8705). A module of its own
// (ngx_http_realm_auth_dpop_module, dpop_module.cc) holds the directives;
// the access handler calls the three hooks below and nothing else.
//
//   auth_realm_dpop off | on | required;            location
//   auth_realm_dpop_htu_base <scheme://host[:port]>; location (behind a LB)
//   auth_realm_dpop_window <time>;                   location (iat window)
//   auth_realm_dpop_algorithms <alg> ...;            location
//   auth_realm_dpop_replay_cache <entries>;          http
#pragma once

#include <cstdint>
#include <string>

#include "algorithm.h"
#include "ngx.h"
#include "sender_binding.h"
#include "status.h"

extern "C" ngx_module_t ngx_http_realm_auth_dpop_module;

namespace realm_auth {

struct RequestCtx;

enum class DpopMode : ngx_uint_t { kOff = 0, kOn = 1, kRequired = 2 };

struct DpopLocConf {
  ngx_uint_t mode;     // DpopMode
  ngx_str_t htu_base;  // normalised scheme://host[:port], empty = from the request
  time_t window;       // auth_realm_dpop_window
  ngx_array_t* algs;   // auth_realm_dpop_algorithms (ngx_str_t), null = default
  AlgSet algorithms;   // built at merge
};

struct DpopMainConf {
  ngx_int_t replay_entries;     // auth_realm_dpop_replay_cache
  ngx_shm_zone_t* replay_zone;  // made when a location turns DPoP on
};

// Post-read, in every server where auth_realm is configured (the identity
// strip's pass, identity_headers.cc): records the client's DPoP header
// lines for check_sender and removes them from the request, so that no
// upstream ever sees a proof, whatever the access decision.
ngx_int_t take_client_proofs(ngx_http_request_t* r);

// Where the Authorization header carries `DPoP <token>` (and the location
// accepts DPoP): kOk with the token and ctx->scheme set to kDpop.
// kTokenMissing otherwise (the Bearer rules then answer).
Status dpop_credential(ngx_http_request_t* r, RequestCtx* ctx, ngx_str_t& token);

// After the token is verified (or found in the verified-token cache), once
// per request: the DPoP proof (every request, never cached), the replay
// cache (zone, then Redis), the cnf binding and the client certificate.
// Sets `wait` while the
// Redis check runs in the thread pool (the request is woken when it lands).
Status check_sender(ngx_http_request_t* r, RequestCtx* ctx, bool& wait);

// The WWW-Authenticate value for a 401 with `s`: a DPoP challenge where the
// location takes DPoP and the refusal concerns it (or DPoP is required),
// otherwise the Bearer challenge.
std::string auth_challenge(ngx_http_request_t* r, const RequestCtx* ctx, Status s);

}  // namespace realm_auth
