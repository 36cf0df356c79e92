# auth_realm_status in the Prometheus text exposition format: chosen by
# Accept (Prometheus's scraper header) or ?format=, parsed by the official
# client's parser (scripts/check-metrics.py, which also checks HELP/TYPE,
# names, _total and the histogram rules), and each value equals what the
# block sent. Each block runs against a fresh nginx; the status is the last
# request.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $TOKEN = token(realm => 'tenant-a');
# What Prometheus 2.x sends when it scrapes.
our $SCRAPE = 'Accept: application/openmetrics-text;version=1.0.0;q=0.5,'
    . 'text/plain;version=0.0.4;q=0.4,*/*;q=0.1';
set_delay('tenant-slow', 1);

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status {
            auth_realm_status;
        }
    },
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: a scrape gets the text format, every counter present and zero
--- request
GET /realm-auth/status
--- more_headers eval
$::SCRAPE
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- status_prometheus
realm_auth_requests_total{result="verified"} 0
realm_auth_requests_total{reason="expired",result="refused"} 0
realm_auth_requests_total{reason="token_missing",result="refused"} 0
realm_auth_requests_total{reason="dpop_replayed",result="refused"} 0
realm_auth_token_cache_lookups_total{result="hit"} 0
realm_auth_token_cache_lookups_total{result="miss"} 0
realm_auth_jwks_lookups_total{result="ok",tier="http"} 0
realm_auth_jwks_lookups_total{result="failed",tier="http"} 0
realm_auth_jwks_fetch_duration_seconds_count{result="ok"} 0
realm_auth_jwks_fetch_duration_seconds_bucket{le="+Inf",result="ok"} 0
realm_auth_zone_size_bytes{zone="realm_auth"} >= 10485760
realm_auth_zone_pages{zone="realm_auth"} > 0
realm_auth_zone_free_pages{zone="realm_auth"} > 0



=== TEST 2: curl's */* and no Accept get JSON; ?format= overrides Accept
--- request eval
["GET /realm-auth/status", "GET /realm-auth/status", "GET /realm-auth/status?format=prometheus",
 "GET /realm-auth/status?format=json", "GET /realm-auth/status?x=1&format=prometheus"]
--- more_headers eval
["Accept: */*", "", "Accept: */*", $::SCRAPE, "Accept: application/json"]
--- response_headers_like eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: text/plain; version=0.0.4.*", "Content-Type: application/json",
 "Content-Type: text/plain; version=0.0.4.*"]
--- response_body_like eval
['^\{"verified":0', '^\{"verified":0', '^# HELP realm_auth_requests_total ',
 '^\{"verified":0', '^# HELP realm_auth_requests_total ']



=== TEST 3: verified, refused by reason, cache hits and misses, fetches timed
Every presented token is looked up in the cache first (1 + 2 expired + the
unknown kid + the platform issuer = 5 misses; a missing token is not); the
unknown kid makes one early re-fetch, so two fetches in all.
--- request eval
["GET /api/1", "GET /api/2", "GET /api/3", "GET /api/4", "GET /api/5", "GET /api/6",
 "GET /api/7", "GET /api/8", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN), auth($::TOKEN), auth($::TOKEN), bearer(exp_in => -3600),
 bearer(exp_in => -3600), bearer(kid => 'nope'), bearer(realm => 'platform'), "", $::SCRAPE]
--- error_code eval
[200, 200, 200, 401, 401, 401, 401, 401, 200]
--- status_prometheus
realm_auth_requests_total{result="verified"} 3
realm_auth_requests_total{reason="expired",result="refused"} 2
realm_auth_requests_total{reason="key_not_found",result="refused"} 1
realm_auth_requests_total{reason="issuer_not_allowed",result="refused"} 1
realm_auth_requests_total{reason="token_missing",result="refused"} 1
realm_auth_requests_total{reason="signature_invalid",result="refused"} 0
realm_auth_token_cache_lookups_total{result="hit"} 2
realm_auth_token_cache_lookups_total{result="miss"} 5
realm_auth_token_cache_entries 1
realm_auth_jwks_lookups_total{result="ok",tier="http"} 2
realm_auth_jwks_lookups_total{result="failed",tier="http"} 0
realm_auth_jwks_refetches_total 1
realm_auth_jwks_issuers{keys="yes"} 1
realm_auth_jwks_fetch_duration_seconds_count{result="ok"} 2
realm_auth_jwks_fetch_duration_seconds_bucket{le="+Inf",result="ok"} 2
realm_auth_jwks_fetch_duration_seconds_count{result="failed"} 0



=== TEST 4: a fetch that fails is counted as failed, and timed
--- request eval
["GET /api/1", "GET /realm-auth/status?format=prometheus"]
--- more_headers eval
[bearer(iss => realm_iss('tenant-nokeys')), ""]
--- error_code eval
[401, 200]
--- status_prometheus
realm_auth_requests_total{reason="jwks_unavailable",result="refused"} 1
realm_auth_jwks_lookups_total{result="failed",tier="http"} >= 1
realm_auth_jwks_fetch_duration_seconds_count{result="failed"} >= 1
realm_auth_jwks_fetch_duration_seconds_count{result="ok"} 0



=== TEST 5: the histogram measures the fetch: a 1 s slow issuer lands between 0.5 s and 2.5 s
--- request eval
["GET /api/1", "GET /realm-auth/status?format=prometheus"]
--- more_headers eval
[bearer(realm => 'tenant-slow'), ""]
--- error_code eval
[200, 200]
--- status_prometheus
realm_auth_jwks_fetch_duration_seconds_count{result="ok"} 1
realm_auth_jwks_fetch_duration_seconds_bucket{le="0.5",result="ok"} 0
realm_auth_jwks_fetch_duration_seconds_bucket{le="2.5",result="ok"} 1
realm_auth_jwks_fetch_duration_seconds_sum{result="ok"} >= 1
