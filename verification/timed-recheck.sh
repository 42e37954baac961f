#!/usr/bin/env bash
# Every scenario of models/ re-checked under explicit time: each file that
# is not already `timing = "timed"` is copied with its timing replaced by
# the Δ-synchronous timed model (the default clocks: Δ 1 tick, reply 3,
# heartbeat 4, election 8..10) and every other key kept — network, faults,
# bounds, expectations — then checked with a time limit. A verdict that
# differs from the file's expectation (which records the verdict under its
# own timing) is a verdict that explicit time changes.
#
# Usage: verification/timed-recheck.sh [--limit SECS] [--out FILE] [SCENARIO.toml...]
#   --limit: seconds per check (default 60); a check stopped there reports
#            what it established, and "not decided" for the rest
#   --out:   the Markdown table (default verification/timed-recheck.md)
# Needs a release build (cargo build --release) and jq.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
elect=${ELECT:-$here/target/release/elect}
limit=60
out="$here/verification/timed-recheck.md"
files=()
while [ $# -gt 0 ]; do
    case "$1" in
        --limit) limit=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "timed-recheck: unknown option $1" >&2; exit 2 ;;
        *) files+=("$1"); shift ;;
    esac
done
[ -x "$elect" ] || { echo "timed-recheck: no $elect (cargo build --release first)" >&2; exit 2; }
command -v jq >/dev/null || { echo "timed-recheck: needs jq" >&2; exit 2; }
[ ${#files[@]} -gt 0 ] || files=("$here"/models/*.toml)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
rows=()
for file in "${files[@]}"; do
    name=$(basename "$file" .toml)
    timing=$(sed -n 's/^timing = "\(.*\)"/\1/p' "$file")
    [ "$timing" = timed ] && continue
    if grep -q '^network = "duplicating"' "$file"; then
        rows+=("| $name | $timing | — | not applicable: a duplicating network never consumes a message, so no message has a deadline |")
        continue
    fi
    retimed="$scratch/$name-timed.toml"
    sed 's/^timing = .*/timing = "timed"/' "$file" > "$retimed"
    started=$(date +%s)
    json=$(timeout $((limit + 60)) "$elect" check "$retimed" --timeout "$limit" --json 2>/dev/null || true)
    seconds=$(( $(date +%s) - started ))
    if [ -z "$json" ]; then
        rows+=("| $name | $timing | ${seconds} s | no result (the check did not finish its report) |")
        continue
    fi
    states=$(jq -r '.unique_states // .states' <<<"$json")
    changed=$(jq -r '[.properties[] | select(.meets_expectation | not)
        | "\(.name): \(.expect) → \(.outcome | gsub("_"; " "))"] | join("; ")' <<<"$json")
    [ -n "$changed" ] || changed="none: every verdict as under $timing"
    rows+=("| $name | $timing | $states states, ${seconds} s | $changed |")
    echo "$name: $changed" >&2
done

{
    echo "# Every scenario re-checked under explicit time"
    echo
    echo "\`verification/timed-recheck.sh --limit $limit\`, $(date -u +%Y-%m-%d): each scenario"
    echo "of \`models/\` that is not already timed, with its timing replaced by"
    echo "\`timed\` (Δ 1 tick, reply 3, heartbeat 4, election 8..10 ticks) and"
    echo "everything else kept, checked for at most $limit s. \"Changed\" lists each"
    echo "property whose verdict differs from the file's expectation, which"
    echo "records the verdict under the scenario's own timing; \"not decided\""
    echo "there means the time limit or a bound stopped the check, not that the"
    echo "verdict changed."
    echo
    echo "| scenario | its timing | under timed | changed |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} > "$out"
echo "wrote $out" >&2
