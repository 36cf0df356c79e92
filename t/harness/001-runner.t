# Self-test of the mini Test::Nginx::Socket runner with plain nginx configs
# (no realm-auth module): each section behaves as in the real runner.
use Test::Nginx::Socket 'no_plan';

no_shuffle();
log_level('info');
no_long_string();

our $Checked = 0;
add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry) = @_;
    $Checked++ if defined $block->count_me;
});

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(request => "GET /default\n") unless defined $block->request;
});

run_tests();

is($Checked, 2, 'response body checks ran once per request of the marked block');

__DATA__

=== TEST 1: plain return, exact body and headers
--- config
    location = /t {
        add_header X-Hello world;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- response_headers
X-Hello: world
Content-Type: text/plain
!X-Missing



=== TEST 2: status, header regex, error_log substring
--- config
    location = /nofile.html { root html; }
--- request
GET /nofile.html
--- error_code: 404
--- response_headers_like
Content-Type: text/html.*
--- error_log
No such file or directory
nofile.html
--- no_error_log
[alert]
this text never appears



=== TEST 3: eval sections, qr// patterns, several requests
--- config
    location /r {
        return 200 "uri=$uri foo=$http_x_foo\n";
    }
--- request eval
["GET /r/1", "GET /r/2"]
--- more_headers eval
["X-Foo: " . ("a" x 3), "X-Foo: b"]
--- response_body eval
["uri=/r/1 foo=aaa\n", "uri=/r/2 foo=b\n"]
--- error_code eval
[200, 200]
--- count_me
--- no_error_log eval
[qr/\[(alert|crit|emerg)\]/]



=== TEST 4: TEST_NGINX_* expansion, proxy to ourselves, body like
--- config
    location = /front {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "back on $server_port\n";
    }
--- request
GET /front
--- response_body_like: ^back on \d+$



=== TEST 5: chunked responses are decoded
--- config
    location = /c {
        sub_filter 'a' 'b';
        sub_filter_once off;
        sub_filter_types *;
        return 200 "aaa\n";
    }
--- request
GET /c
--- raw_response_headers_like: Transfer-Encoding: chunked
--- response_body
bbb



=== TEST 6: POST body and Content-Length
--- config
    location = /p {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "len=$http_content_length\n";
    }
--- request
POST /p
hello world
--- response_body
len=11



=== TEST 7: block preprocessor filled the request, error_log eval
--- config
    location = /default {
        return 204;
    }
--- error_code: 204
--- response_body:
--- error_log eval
qr/\[notice\] .*start worker process|using the "\w+" event method/



=== TEST 8: skip_nginx
--- skip_nginx: 1: > 1.0.0
--- config
--- request
GET /
--- error_code: 999



=== TEST 9: main_config and env_to_nginx-style main directives
--- main_config
    env TEST_NGINX_SERVER_PORT;
--- config
    location = /m { return 200 "ok\n"; }
--- request
GET /m
--- response_body
ok
