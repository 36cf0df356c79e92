/* The three symbols nginx's load_module looks for; the module itself is C++
 * (module.cc). This is what `configure --add-dynamic-module` would generate. */
#include <ngx_config.h>
#include <ngx_core.h>

extern ngx_module_t ngx_http_realm_auth_module;
extern ngx_module_t ngx_http_realm_auth_dpop_module;
extern ngx_module_t ngx_http_realm_auth_body_module;

__attribute__((visibility("default"))) ngx_module_t *ngx_modules[] = {
    &ngx_http_realm_auth_module,
    &ngx_http_realm_auth_dpop_module,
    &ngx_http_realm_auth_body_module,
    NULL,
};

__attribute__((visibility("default"))) char *ngx_module_names[] = {
    "ngx_http_realm_auth_module",
    "ngx_http_realm_auth_dpop_module",
    "ngx_http_realm_auth_body_module",
    NULL,
};

__attribute__((visibility("default"))) char *ngx_module_order[] = {
    NULL,
};
