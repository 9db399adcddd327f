#!/usr/bin/env bash
# Endpoints and tokens through the real program: deploy refuses a pending version where
# approval is required (the default) and takes it where tsloop.yaml says requires_approval:
# false; deploying the current version changes nothing; endpoints lists deployed and declared
# ones; auto_deploy follows registrations (on_register) and approvals (on_approval); rollback
# walks back and then has nothing left; a declared forecaster is enforced;
# tokens are shown once, listed without the secret, revoked; usage errors exit 2.
# usage: test_deploy.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")

make_project "$tmp/shop"
cat >>"$tmp/shop/tsloop.yaml" <<'YAML'
endpoints:
  prod:
    forecaster: daily
  staging:
    requires_approval: false
  live:
    forecaster: daily
    requires_approval: false
    auto_deploy: on_register
  approved:
    forecaster: daily
    auto_deploy: on_approval
YAML
gen "$tmp/sales.csv" 3 60
expect_exit 0 "ingest" "$TSLOOP" ingest "${P[@]}" "$tmp/sales.csv"
expect_exit 0 "train daily" "$TSLOOP" train daily "${P[@]}"
gen "$tmp/more.csv" 3 67
expect_exit 0 "ingest a week more" "$TSLOOP" ingest "${P[@]}" "$tmp/more.csv"
expect_exit 0 "train again" "$TSLOOP" train daily "${P[@]}"
check "version 2" grep -q "registered daily/2" "$tmp/out"
expect_exit 0 "endpoints after two trainings" "$TSLOOP" endpoints "${P[@]}" --json
check "on_register follows every registration; on_approval waits" test "$(jq_py "$tmp/out" \
  "[(e['endpoint'], e['version']) for e in d if e['endpoint'] in ('live', 'approved')]")" = \
  "[('live', 2), ('approved', None)]"

expect_exit 0 "no endpoints yet: declared ones listed" "$TSLOOP" endpoints "${P[@]}" --json
check "declared ones listed, live deployed by registration" test "$(jq_py "$tmp/out" \
  "[(e['endpoint'], e['version']) for e in d]")" = \
  "[('live', 2), ('prod', None), ('staging', None), ('approved', None)]"

expect_exit 1 "prod refuses a pending version" "$TSLOOP" deploy daily/1 --endpoint prod "${P[@]}"
check "says approval is required" grep -q "requires approval" "$tmp/err"
expect_exit 1 "prod refuses another forecaster" "$TSLOOP" deploy regional.north --endpoint prod "${P[@]}"
check "names the declared forecaster" grep -q "serves forecaster 'daily'" "$tmp/err"
expect_exit 0 "staging takes a pending version" "$TSLOOP" deploy daily/1 --endpoint staging "${P[@]}" --json
check "deployment JSON" test "$(jq_py "$tmp/out" "d['endpoint'], d['version'], d['changed']")" = "staging 1 True"
expect_exit 0 "approve 1" "$TSLOOP" models approve daily/1 --why ok "${P[@]}"
check "on_approval deploys the approved version" grep -q "daily/1: deployed to 1 endpoint" "$tmp/out"
expect_exit 0 "approve 2" "$TSLOOP" models approve daily/2 --why ok "${P[@]}"
expect_exit 0 "endpoint approved" "$TSLOOP" endpoints approved "${P[@]}" --json
check "approved follows approvals, recorded as auto_deploy" test "$(jq_py "$tmp/out" \
  "[e['version'] for e in d], d[0]['why']")" = "[2, 1] auto_deploy on_approval"
expect_exit 0 "deploy 1 to prod" "$TSLOOP" deploy daily/1 --endpoint prod --why first "${P[@]}"
check "says new endpoint" grep -q "deployed daily/1 to prod (a new endpoint)" "$tmp/out"
expect_exit 0 "deploy the latest to prod" "$TSLOOP" deploy daily --endpoint prod "${P[@]}"
check "says what it replaced" grep -q "deployed daily/2 to prod (was daily/1)" "$tmp/out"
expect_exit 0 "deploy again" "$TSLOOP" deploy daily/2 --endpoint prod "${P[@]}"
check "nothing changed" grep -q "nothing changed" "$tmp/out"
expect_exit 0 "endpoints" "$TSLOOP" endpoints "${P[@]}" --json
check "prod serves 2, staging 1" test "$(jq_py "$tmp/out" \
  "[(e['endpoint'], e['version']) for e in d]")" = \
  "[('approved', 2), ('live', 2), ('prod', 2), ('staging', 1)]"
expect_exit 0 "rollback" "$TSLOOP" rollback --endpoint prod --why bad "${P[@]}"
check "back to 1" grep -q "rolled prod back to daily/1" "$tmp/out"
expect_exit 1 "nothing left to roll back" "$TSLOOP" rollback --endpoint prod "${P[@]}"
check "says so" grep -q "nothing to roll back to" "$tmp/err"
expect_exit 0 "history" "$TSLOOP" endpoints prod "${P[@]}" --json
check "three deployments, newest first" test "$(jq_py "$tmp/out" \
  "[(e['action'], e['version']) for e in d], d[0]['why']")" = \
  "[('rollback', 1), ('deploy', 2), ('deploy', 1)] bad"
expect_exit 0 "events" "$TSLOOP" events "${P[@]}" --json
check "deploy events" grep -q "endpoint.rolled_back" "$tmp/out"

# Tokens.
expect_exit 0 "token create" "$TSLOOP" token create --name ci --role writer "${P[@]}"
tok=$(cat "$tmp/out")
check "a token, once" test "${#tok}" = 47
check "told it is shown once" grep -q "shown only this once" "$tmp/err"
expect_exit 1 "same name again" "$TSLOOP" token create --name ci --role admin "${P[@]}"
expect_exit 2 "bad role" "$TSLOOP" token create --name x --role root "${P[@]}"
expect_exit 0 "token list" "$TSLOOP" token list "${P[@]}" --json
check "listed without the secret" test "$(jq_py "$tmp/out" "len(d), d[0]['role'], '${tok:4}' in json.dumps(d)")" = "1 writer False"
expect_exit 0 "revoke" "$TSLOOP" token revoke ci "${P[@]}"
expect_exit 1 "revoke again" "$TSLOOP" token revoke ci "${P[@]}"

# Usage errors.
expect_exit 2 "deploy without --endpoint" "$TSLOOP" deploy daily/1 "${P[@]}"
expect_exit 2 "deploy a bad reference" "$TSLOOP" deploy daily/x --endpoint prod "${P[@]}"
expect_exit 2 "rollback without --endpoint" "$TSLOOP" rollback "${P[@]}"
expect_exit 1 "history of an unknown endpoint" "$TSLOOP" endpoints nope "${P[@]}"
finish
