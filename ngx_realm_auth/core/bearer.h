// The Authorization header and the WWW-Authenticate challenge, for the
// module and the sidecar alike (RFC 6750 §2.1, §3; RFC 9110 §11):
//
//   credentials = "Bearer" 1*SP b64token
//   b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// Leading and trailing SP/HTAB of the field value are not part of it
// (RFC 9110 §5.5; HTTP/1 parsers strip them, HTTP/2 does not). The scheme
// is the text up to the first SP, compared case-insensitively; anything
// but "Bearer" there (another scheme, "Bearer:", "Bearer<TAB>…") is no
// bearer credential at all. After "Bearer" and one or more SP the rest must
// be exactly one b64token: a second word, a comma-separated second
// credential, quotes or control bytes make the credential malformed.
#pragma once

#include <string>
#include <string_view>

#include "status.h"

namespace realm_auth {

// kOk with `token` set (a view into `field`); kTokenMissing when `field`
// carries no Bearer credential (empty, another scheme, "Bearer" alone);
// kTokenMalformed when it is the Bearer scheme but not one b64token.
Status bearer_credential(std::string_view field, std::string_view& token);

// The two halves of bearer_credential, for a caller that can skip the
// second where the credential is already known to be good: the module's
// verified-token cache only holds tokens that passed is_b64token (and
// base64url decoding), so a hit needs no scan of its ~1 KB; a miss must
// call is_b64token before anything else.
//   bearer_scheme: kOk with `credential` = everything after "Bearer" 1*SP
//   (trimmed), or kTokenMissing as above.
Status bearer_scheme(std::string_view field, std::string_view& credential);
//   authorization_scheme: the same for another scheme name ("DPoP",
//   RFC 9449 §7.1: the same token68 syntax follows it).
Status authorization_scheme(std::string_view field, std::string_view name,
                            std::string_view& credential);
//   is_b64token: 1*b64token-char *"=" and nothing else.
bool is_b64token(std::string_view s);

// The WWW-Authenticate value answering a refusal with `s`: "Bearer" when no
// token was presented (kTokenMissing), otherwise
// Bearer error="invalid_token", error_description="<status_description(s)>".
std::string bearer_challenge(Status s);

// The WWW-Authenticate value answering an authorization refusal with 403
// (RFC 6750 §3.1): Bearer error="insufficient_scope",
// error_description="<status_description(s)>". The description names the
// kind of rule, never the roles or values it wants.
std::string bearer_insufficient_scope(Status s);

}  // namespace realm_auth
