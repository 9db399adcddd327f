#!/usr/bin/env bash
# End-to-end checks of projects: `tsloop init` (files, refusing to overwrite, --force keeping
# the data, --name, usage errors), discovery from a subdirectory, --project, and `tsloop config`
# reporting a broken configuration with FILE:LINE:COL and exit 1.
# usage: test_init.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1") # the subshells cd
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
  if ! "${@:2}"; then echo "FAIL: $1"; fails=$((fails + 1)); else echo "ok: $1"; fi
}
expect_exit() { # expect_exit CODE DESCRIPTION COMMAND...
  local want=$1 desc=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $desc: exit $got, expected $want"; cat "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok: $desc"
  fi
}

expect_exit 0 "init --help" "$TSLOOP" init --help
check "help names --force" grep -q -- "--force" "$tmp/out"
expect_exit 0 "init DIR" "$TSLOOP" init "$tmp/shop"
check "tsloop.yaml written" test -f "$tmp/shop/tsloop.yaml"
check "data directory made" test -d "$tmp/shop/.tsloop"
check "data directory private" test "$(stat -c %a "$tmp/shop/.tsloop")" = 700
check "data directory ignored by git" grep -qx '\*' "$tmp/shop/.tsloop/.gitignore"
check "name from the directory" grep -q '^name: shop ' "$tmp/shop/tsloop.yaml"
check "init says where" grep -q "$tmp/shop" "$tmp/out"

echo "edited: true" >>"$tmp/shop/tsloop.yaml"
expect_exit 1 "init again is refused" "$TSLOOP" init "$tmp/shop"
check "refusal names the file and --force" \
  grep -q "tsloop: $tmp/shop/tsloop.yaml already exists.*pass --force" "$tmp/err"
check "refused init left the file alone" grep -q "edited: true" "$tmp/shop/tsloop.yaml"

echo "precious" >"$tmp/shop/.tsloop/store.db"
expect_exit 0 "init --force" "$TSLOOP" init "$tmp/shop" --force --name shop-eu
check "--force rewrote the file" grep -q '^name: shop-eu ' "$tmp/shop/tsloop.yaml"
check "--force kept the data" grep -qx precious "$tmp/shop/.tsloop/store.db"

expect_exit 2 "init with two directories" "$TSLOOP" init a b
expect_exit 2 "init with an unknown option" "$TSLOOP" init --forse
expect_exit 2 "init with a bad name" "$TSLOOP" init "$tmp/x" --name "a b"
check "bad name is not created" test ! -e "$tmp/x"

# init with no argument works in the current directory.
mkdir "$tmp/here"
(cd "$tmp/here" && "$TSLOOP" init >/dev/null 2>&1)
check "init in the current directory" test -f "$tmp/here/tsloop.yaml"

# Discovery: from a subdirectory, from the root, and --project from elsewhere.
mkdir -p "$tmp/shop/data/raw/2024"
(cd "$tmp/shop/data/raw/2024" && "$TSLOOP" config --json >"$tmp/out" 2>"$tmp/err")
check "config found from a subdirectory" grep -q "\"root\": \"$tmp/shop\"" "$tmp/out"
check "the hash is reported" grep -Eq '"hash": "[0-9a-f]{64}"' "$tmp/out"
(cd "$tmp" && "$TSLOOP" config --project shop >"$tmp/out" 2>"$tmp/err")
check "--project DIR (relative)" grep -q "^project      shop-eu ($tmp/shop)" "$tmp/out"
expect_exit 0 "--project DIR (absolute)" "$TSLOOP" config --project "$tmp/shop" --normalized
check "--normalized prints the normalised text" grep -q '^name: "shop-eu"$' "$tmp/out"
expect_exit 1 "--project on a directory without a project" "$TSLOOP" config --project "$tmp/shop/data"
check "no project: names the directory" \
  grep -q "no tsloop.yaml in $tmp/shop/data, expected a project directory" "$tmp/err"
mkdir "$tmp/nowhere"
(cd "$tmp/nowhere" && "$TSLOOP" config >"$tmp/out" 2>"$tmp/err")
rc=$?
check "no project above: exit 1" test "$rc" = 1
check "no project above: the message" \
  grep -q "no tsloop.yaml in $tmp/nowhere or any parent; run \`tsloop init\` or pass --project" \
  "$tmp/err"

# A broken configuration: FILE:LINE:COL, what was wrong and what was expected.
cat >"$tmp/here/tsloop.yaml" <<'YAML'
name: here
datasets:
  sales: {}
forecasters:
  daily:
    dataset: sales
    horizn: 14
YAML
(cd "$tmp/here" && "$TSLOOP" config >"$tmp/out" 2>"$tmp/err")
rc=$?
check "broken configuration: exit 1" test "$rc" = 1
check "broken configuration: file, line, column, suggestion" \
  grep -q "^tsloop: $tmp/here/tsloop.yaml:7:5: forecasters.daily: unknown key \"horizn\" (did you mean 'horizon'?), expected one of" \
  "$tmp/err"
# A secret from the environment is used but never printed.
cat >"$tmp/here/tsloop.yaml" <<'YAML'
name: here
store: postgresql://tsloop:${TSL_TEST_PGPASS}@db/x
YAML
(cd "$tmp/here" && TSL_TEST_PGPASS=s3cret "$TSLOOP" config >"$tmp/out" 2>"$tmp/err")
check "secret store URI accepted" grep -q "postgresql (URI not shown" "$tmp/out"
check "secret never printed" test -z "$(grep -r s3cret "$tmp/out" "$tmp/err")"
(cd "$tmp/here" && "$TSLOOP" config >"$tmp/out" 2>"$tmp/err")
check "unset variable reported" \
  grep -q "tsloop.yaml:2:8: store: environment variable TSL_TEST_PGPASS is not set" "$tmp/err"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
