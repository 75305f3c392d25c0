#!/bin/sh
# Prints CLINICOPS_AUTH_TOKENS=role:sha256hex,... for docker compose, from the
# development bearer tokens in .data/dev-tokens.env (CLINICOPS_TOKEN_<ROLE>=...,
# the same file `make run` uses). Missing tokens are created. Run from the
# repository root:
#
#   export "$(deploy/dev-tokens.sh)"
#   docker compose up --build
#   . .data/dev-tokens.env   # plaintext tokens for curl: $CLINICOPS_TOKEN_FRONT_DESK ...
#
# Development only: production tokens are made and kept elsewhere, and only
# their hashes go into the clinicops-auth Secret.
set -eu

file=${CLINICOPS_DEV_TOKENS_FILE:-.data/dev-tokens.env}
roles="front_desk nurse lab clinician billing admin"

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		printf %s "$1" | sha256sum | cut -d' ' -f1
	else
		printf %s "$1" | shasum -a 256 | cut -d' ' -f1
	fi
}

newtoken() {
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

mkdir -p "$(dirname "$file")"
touch "$file"
chmod 600 "$file"

out=""
for role in $roles; do
	key="CLINICOPS_TOKEN_$(printf %s "$role" | tr '[:lower:]' '[:upper:]')"
	tok=$(sed -n "s/^$key=//p" "$file" | tail -n 1)
	if [ -z "$tok" ]; then
		tok=$(newtoken)
		printf '%s=%s\n' "$key" "$tok" >>"$file"
	fi
	out="$out${out:+,}$role:$(sha256 "$tok")"
done
printf 'CLINICOPS_AUTH_TOKENS=%s\n' "$out"
