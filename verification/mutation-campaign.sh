#!/usr/bin/env bash
# The mutation campaign: which of elect's own commands catch a bug nobody
# seeded? cargo-mutants generates the mutants (a comparison flipped, an
# operator swapped, a body replaced by a default); this script applies each
# to a scratch copy of the repository, builds it, and asks in turn
#
#   check      the protocol's default check: `elect check <protocol>`
#   scenarios  every quick scenario of that protocol in models/, one
#              `elect check FILE` each: what `cargo test --test scenarios`
#              and `elect verify` run
#   verify     with --slow, every slow scenario of that protocol too: the
#              rest of what `elect verify` runs
#   unit       `cargo test --lib protocols::<module>`: the unit tests
#
# stopping at the first that catches it (a non-zero exit, or a timeout,
# which cargo-mutants also counts as caught). A mutant that does not build
# is "unviable". One JSON line per mutant goes to the results file; a run
# started again skips the mutants already there.
#
# Usage: verification/mutation-campaign.sh [--out FILE] [--limit N] [--slow]
#            [[--patch] FILE.patch]... [MODULE...]
#   MODULE: raft, bully, bully_halt, ring, mod (src/protocols/MODULE.rs):
#           every cargo-mutants mutant of it
#   --patch: a hand-written mutant (a patch of one protocol module; its first
#           line "# what it does")
#   --summarise FILE: print a results file as Markdown tables, and stop
# Needs cargo-mutants (`cargo install cargo-mutants --locked`), jq, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/verification/mutants/results.jsonl"
limit=0
slow=0
modules=()
patches=()
summarise=
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --limit) limit=$2; shift 2 ;;
        --slow) slow=1; shift ;;
        --summarise) summarise=$2; shift 2 ;;
        --patch) patches+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        -*) echo "mutation-campaign: unknown option $1" >&2; exit 2 ;;
        *.patch) patches+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift ;;
        *) modules+=("$1"); shift ;;
    esac
done
# --summarise FILE: a Markdown table of a results file, then stop.
if [ -n "$summarise" ]; then
    jq -rs '
      (group_by(.module)[] | . as $m |
        "| `\($m[0].module)` | \($m | length) | \([$m[] | select(.caught_by == "unviable")] | length) | \([$m[] | select(.caught_by == "check")] | length) | \([$m[] | select(.caught_by == "scenarios")] | length) | \([$m[] | select(.caught_by == "verify")] | length) | \([$m[] | select(.caught_by == "unit")] | length) | \([$m[] | select(.caught_by == "none")] | length) |")
    ' "$summarise" | { echo "| module | mutants | unviable | caught by check | by scenarios | by verify | by unit tests only | missed |"; echo "|---|---|---|---|---|---|---|---|"; cat; }
    echo
    jq -rs '.[] | select(.caught_by != "unviable") |
      "| `\(.module)` | \(.mutant | sub("^src/protocols/"; "") | gsub("\\|"; "\\|")) | \(.caught_by) | \(.tiers | to_entries | map("\(.key): \(.value)") | join("; ")) |"
    ' "$summarise" | { echo "| module | mutant | caught by | every tier asked |"; echo "|---|---|---|---|"; cat; }
    exit 0
fi
[ ${#modules[@]} -gt 0 ] || [ ${#patches[@]} -gt 0 ] || { echo "mutation-campaign: name at least one module (raft, bully, bully_halt, ring, mod) or --patch" >&2; exit 2; }
command -v cargo-mutants >/dev/null || { echo "mutation-campaign: cargo-mutants is not installed (cargo install cargo-mutants --locked)" >&2; exit 2; }

# Display code, constructors and symmetry plumbing: no protocol behaviour.
exclude='fmt|::name|Rewrite|message_kind|timer_range|::cluster|::new|largest_message'
scratch=${MUTANTS_SCRATCH:-/tmp/elect-mutants}
rm -rf "$scratch"
git -C "$here" worktree prune
git -C "$here" worktree add -q --detach "$scratch" HEAD
export CARGO_TARGET_DIR="$scratch/target" CARGO_PROFILE_RELEASE_INCREMENTAL=true
mkdir -p "$(dirname "$out")"

protocol_of() {
    case "$1" in
        raft) echo raft ;; bully) echo bully ;; bully_halt) echo bully-halt ;;
        ring) echo ring ;; mod) echo all ;;
    esac
}

# The scenarios of one protocol (or of all): the quick ones (not marked
# slow) for the scenarios tier, the slow ones for the verify tier.
scenarios_of() {
    local protocol=$1 tier=$2 f slow_file
    for f in "$scratch"/models/*.toml; do
        slow_file=$(grep -c '^slow = true' "$f" || true)
        [ "$tier" = scenarios ] && [ "$slow_file" != 0 ] && continue
        [ "$tier" = verify ] && [ "$slow_file" = 0 ] && continue
        [ "$protocol" = all ] || grep -q "^protocol = \"$protocol\"" "$f" || continue
        echo "$f"
    done
}

# Applies one mutant (its span and replacement, as cargo-mutants lists it).
apply() {
    python3 - "$scratch" "$1" <<'PY'
import json, sys
root, mutant = sys.argv[1], json.loads(sys.argv[2])
path = f"{root}/{mutant['file']}"
lines = open(path).read().split("\n")
start, end = mutant["span"]["start"], mutant["span"]["end"]
head = lines[start["line"] - 1][: start["column"] - 1]
tail = lines[end["line"] - 1][end["column"] - 1 :]
lines[start["line"] - 1 : end["line"]] = [head + mutant["replacement"] + tail]
open(path, "w").write("\n".join(lines))
PY
}

# Runs a command with a time limit; prints caught, missed or timeout.
verdict() {
    local limit=$1; shift
    if timeout "$limit" "$@" >/dev/null 2>&1; then echo missed
    elif [ $? -eq 124 ]; then echo timeout
    else echo caught
    fi
}

# Builds the mutated tree and asks each tier in turn; prints the JSON line.
judge() {
    local module=$1 name=$2 started protocol caught_by=none tiers="{}" v scenario filter
    started=$(date +%s)
    protocol=$(protocol_of "$module")
    if ! cargo build --release --quiet --manifest-path "$scratch/Cargo.toml" --bin elect 2>/dev/null; then
        caught_by=unviable
    else
        v=$(cd "$scratch" && verdict 150 "$elect" check "$protocol")
        tiers=$(jq -c --arg v "$v" '.check=$v' <<<"$tiers")
        [ "$v" = missed ] || caught_by=check
        for tier in scenarios verify; do
            [ "$caught_by" = none ] || break
            [ "$tier" = verify ] && [ "$slow" = 0 ] && break
            local found=missed
            while read -r scenario; do
                v=$(cd "$scratch" && verdict "$([ "$tier" = verify ] && echo 900 || echo 150)" "$elect" check "$scenario")
                if [ "$v" != missed ]; then found="$v: $(basename "$scenario" .toml)"; break; fi
            done < <(scenarios_of "$protocol" "$tier")
            tiers=$(jq -c --arg t "$tier" --arg v "$found" '.[$t]=$v' <<<"$tiers")
            [ "$found" = missed ] || caught_by=$tier
        done
        if [ "$caught_by" = none ]; then
            filter="protocols::$module"; [ "$module" = mod ] && filter="protocols::"
            v=$(cd "$scratch" && verdict 600 cargo test --quiet --lib "$filter")
            tiers=$(jq -c --arg v "$v" '.unit=$v' <<<"$tiers")
            [ "$v" = missed ] || caught_by=unit
        fi
    fi
    jq -cn --arg name "$name" --arg mod "$module" --arg caught_by "$caught_by" \
        --argjson tiers "$tiers" --argjson seconds $(( $(date +%s) - started )) \
        '{"module": $mod, "mutant": $name, "caught_by": $caught_by, "tiers": $tiers, "seconds": $seconds}' \
        | tee -a "$out"
}

cargo build --release --quiet --manifest-path "$scratch/Cargo.toml" --bin elect
elect="$CARGO_TARGET_DIR/release/elect"
for patch in "${patches[@]}"; do
    file=$(sed -n 's|^+++ b/||p' "$patch" | head -1)
    git -C "$scratch" apply "$patch"
    judge "$(basename "$file" .rs)" "$(basename "$patch" .patch): $(sed -n 's/^Subject: //p; s/^# //p' "$patch" | head -1)"
    git -C "$scratch" checkout -q -- "$file"
done
for module in "${modules[@]}"; do
    file="src/protocols/$module.rs"
    [ -n "$(protocol_of "$module")" ] || { echo "mutation-campaign: unknown module $module" >&2; exit 2; }
    n=0
    cargo mutants --list --json -f "$file" --exclude-re "$exclude" --dir "$scratch" \
        | jq -c '.[]' | while read -r mutant; do
        n=$((n + 1))
        [ "$limit" -gt 0 ] && [ "$n" -gt "$limit" ] && break
        name=$(jq -r .name <<<"$mutant")
        # Resumable: a mutant already in the results file is not asked again.
        [ -f "$out" ] && jq -se --arg n "$name" 'any(.[]; .mutant == $n)' "$out" >/dev/null && continue
        git -C "$scratch" checkout -q -- "$file"
        apply "$mutant"
        judge "$module" "$name"
    done
    git -C "$scratch" checkout -q -- "$file"
done
