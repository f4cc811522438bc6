#!/usr/bin/env bash
# The Vault side of packer-vault on GitLab CI, as copy-paste `vault` commands
# (OpenBao: the same with `bao`). Run them with a token that may manage auth
# methods and policies. Change the three values first.
#
# GitLab signs each job's ID token (`id_tokens:`) with its instance key; Vault
# checks it against GitLab's OIDC discovery document, then a role's bound
# claims decide who gets which policy:
#   packer-validate  any ref of the project (MR pipelines): read-only secrets
#   packer-build     protected refs only: build credentials
#   packer-dev       jobs of environment `dev`
#   packer-prod      jobs of environment `production` on a protected ref
set -euo pipefail

GITLAB=https://gitlab.example.com    # your GitLab: the tokens' issuer (`iss`)
PROJECT=acme/images                  # the project's path (`project_path` claim)
AUDIENCE=https://vault.example.com   # the id_tokens `aud`: the template uses VAULT_SERVER_URL

# 1. A JWT auth method that trusts GitLab's ID tokens.
vault auth enable -path=gitlab jwt
vault write auth/gitlab/config \
  oidc_discovery_url="$GITLAB" \
  bound_issuer="$GITLAB"

# 2. Policies: read exactly what the templates need, plus what packer-vault
#    does with its own token (renew it and its leases, revoke it). Tokens get
#    no `default` policy: it grants more than a CI job needs, and Vault parses
#    it (templated) again on every request.
vault policy write packer-vault - <<'EOF'
path "auth/token/renew-self"  { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/leases/renew"       { capabilities = ["update"] }
path "sys/capabilities-self"  { capabilities = ["update"] }
EOF
vault policy write packer-validate - <<'EOF'
path "secret/data/ci/hcp" { capabilities = ["read"] }
EOF
vault policy write packer-build - <<'EOF'
path "secret/data/ci/hcp"       { capabilities = ["read"] }
path "aws/creds/packer-builder" { capabilities = ["read"] }
EOF
vault policy write packer-dev - <<'EOF'
path "secret/data/ci/hcp"           { capabilities = ["read"] }
path "aws-dev/creds/packer-builder" { capabilities = ["read"] }
EOF
vault policy write packer-prod - <<'EOF'
path "secret/data/ci/hcp"            { capabilities = ["read"] }
path "aws-prod/creds/packer-builder" { capabilities = ["read"] }
EOF

# 3. Roles. Claims are strings: ref_protected is "true" or "false". Short
#    TTLs are fine: packer-vault renews the token while Packer runs (up to
#    token_max_ttl) and revokes it, with its leases, when the job ends.
#    Keep service tokens (the default): batch tokens cannot be renewed or revoked.
vault write auth/gitlab/role/packer-validate - <<EOF
{
  "role_type": "jwt",
  "user_claim": "user_login",
  "bound_audiences": ["$AUDIENCE"],
  "bound_claims": { "project_path": "$PROJECT" },
  "token_policies": ["packer-validate", "packer-vault"],
  "token_no_default_policy": true,
  "token_ttl": 900,
  "token_max_ttl": 3600
}
EOF
vault write auth/gitlab/role/packer-build - <<EOF
{
  "role_type": "jwt",
  "user_claim": "user_login",
  "bound_audiences": ["$AUDIENCE"],
  "bound_claims": { "project_path": "$PROJECT", "ref_type": "branch", "ref_protected": "true" },
  "token_policies": ["packer-build", "packer-vault"],
  "token_no_default_policy": true,
  "token_ttl": 900,
  "token_max_ttl": 14400
}
EOF
vault write auth/gitlab/role/packer-dev - <<EOF
{
  "role_type": "jwt",
  "user_claim": "user_login",
  "bound_audiences": ["$AUDIENCE"],
  "bound_claims": { "project_path": "$PROJECT", "environment": "dev" },
  "token_policies": ["packer-dev", "packer-vault"],
  "token_no_default_policy": true,
  "token_ttl": 900,
  "token_max_ttl": 14400
}
EOF
vault write auth/gitlab/role/packer-prod - <<EOF
{
  "role_type": "jwt",
  "user_claim": "user_login",
  "bound_audiences": ["$AUDIENCE"],
  "bound_claims": {
    "project_path": "$PROJECT",
    "environment": "production",
    "ref_protected": "true"
  },
  "token_policies": ["packer-prod", "packer-vault"],
  "token_no_default_policy": true,
  "token_ttl": 900,
  "token_max_ttl": 14400
}
EOF

# 4. In GitLab (Settings > CI/CD > Variables):
#      VAULT_SERVER_URL = https://vault.example.com   (also the ID token's aud)
#      VAULT_AUTH_PATH  = gitlab
#      PACKER_VAULT_GITLAB_TOKEN (masked) = a project access token with the
#        `api` scope and the Reporter role, for the MR note
#    A login that fails shows the token's claims next to the role's error, so
#    a mismatched bound claim is named in the job log.
