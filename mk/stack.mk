# Local stack targets, included from the top-level Makefile:
#   include mk/stack.mk
# Everything runs from installed packages (no Docker); state lives in .state/.
# The targets only call scripts/stack/*.sh; add prerequisites from the top
# Makefile if needed (e.g. `up: build`).

STACK_SCRIPTS := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../scripts/stack)

.PHONY: up down status clean-state keycloak-fetch token

## up: start PostgreSQL, Redis, Keycloak (platform realm imported, provisioner set up), sidecar and nginx
up:
	@$(STACK_SCRIPTS)/up.sh

## down: stop the stack, keep its data (.state/)
down:
	@$(STACK_SCRIPTS)/down.sh

## status: one line per component; fails when one is not running
status:
	@$(STACK_SCRIPTS)/status.sh

## clean-state: stop the stack and delete .state/ (databases, logs, generated secrets)
clean-state:
	@$(STACK_SCRIPTS)/clean-state.sh

## keycloak-fetch: download and unpack the Keycloak distribution into $(REALM_AUTH_CACHE) (default ~/.cache/realm-auth)
keycloak-fetch:
	@$(STACK_SCRIPTS)/keycloak-fetch.sh >/dev/null

## token: print an access token, e.g.
##   make token                                   platform operator (platform-cli)
##   make token USER=officer REALM=tenant-demo [CLIENT=admin-console] [PASSWORD=...] [NEW_PASSWORD=...]
##     (Authorization Code + PKCE through Keycloak's login pages, scripts/stack/login.py;
##      a first login sets NEW_PASSWORD or a generated one, stored in .state/secrets/users/)
##   make token REALM=platform CLIENT=platform-services   client_credentials
##   make token DEVICE=1                          platform operator, device grant (confirm in a browser)
##   add CLAIMS=1 to print the decoded claims instead
# USER counts only when given on the command line: the environment's USER is
# the login name. PASSWORD, NEW_PASSWORD and CLIENT_SECRET reach the script through the
# environment (make exports command-line variables), never the recipe text.
token:
	@TOKEN_USER='$(if $(filter command line,$(origin USER)),$(USER),$(TOKEN_USER))' \
	  REALM='$(REALM)' CLIENT='$(CLIENT)' CLAIMS='$(CLAIMS)' DEVICE='$(DEVICE)' $(STACK_SCRIPTS)/token.sh
