#!/usr/bin/env bash
# Makes tests/data/notify/hmac.csv: HMAC-SHA256 of (key, body) pairs computed independently of
# tsloop, by OpenSSL (`openssl dgst -sha256 -hmac KEY`), for tests/unit/test_notify.c.
# Rerun: bash tests/data/notify/make_hmac.sh > tests/data/notify/hmac.csv
# Made with OpenSSL 3.0 (Debian 12). The first row is RFC 4231's test case 2.
set -euo pipefail
echo "key,body,signature"
row() {
  local sig
  sig=$(printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" | sed 's/^.*= //')
  printf '%s,%s,sha256=%s\n' "$1" "$2" "$sig"
}
row Jefe "what do ya want for nothing?"
row s3cret '{"id":7;"type":"model.pending";"payload":{"forecaster":"solar";"version":3}}'
row "a-longer-webhook-secret-0123456789" "tsloop"
