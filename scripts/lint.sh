#!/bin/sh
# Fails on banned functions (STYLE.md 2.1) in our C sources.
bad=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)[[:space:]]*\(' \
      $(find src tests -name '*.[ch]') | grep -vE '(snprintf|vsnprintf|strtok_r)\(' )
if [ -n "$bad" ]; then
  echo "lint: banned functions (use buf, snprintf with a checked result, strnum):" >&2
  echo "$bad" >&2
  exit 1
fi
