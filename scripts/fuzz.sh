#!/bin/sh
# Runs each libFuzzer target for N seconds on its seed corpus
# (tests/fuzz/<name>/, copied to a scratch corpus so seeds stay small) with
# its dictionary when there is one. Usage: fuzz.sh SECONDS BINARY...
set -e
secs=$1; shift
status=0
for bin in "$@"; do
  name=$(basename "$bin" _fuzz)
  seeds=tests/fuzz/$name
  work=build/fuzz/corpus-$name
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  dict=""
  [ -f tests/fuzz/$name.dict ] && dict="-dict=tests/fuzz/$name.dict"
  printf '  FUZZ  %s (%ss)\n' "$name" "$secs"
  if ! "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=build/fuzz/ $dict "$work" >build/fuzz/$name.log 2>&1; then
    echo "FAIL fuzz $name: see build/fuzz/$name.log"; tail -30 build/fuzz/$name.log; status=1
  fi
done
exit $status
