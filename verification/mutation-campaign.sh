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
#   unit       `cargo test --lib protocols::<module>`: the unit tests
#
# stopping at the first that catches it (a non-zero exit, or a timeout,
# which cargo-mutants also counts as caught). A mutant that does not build
# is "unviable". One JSON line per mutant goes to the results file.
#
# Usage: verification/mutation-campaign.sh [--out FILE] [--limit N] MODULE...
#   MODULE: raft, bully, bully_halt, ring, mod (src/protocols/MODULE.rs)
# Needs cargo-mutants (`cargo install cargo-mutants --locked`), jq, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/verification/mutants/results.jsonl"
limit=0
modules=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --limit) limit=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "mutation-campaign: unknown option $1" >&2; exit 2 ;;
        *) modules+=("$1"); shift ;;
    esac
done
[ ${#modules[@]} -gt 0 ] || { echo "mutation-campaign: name at least one module (raft, bully, bully_halt, ring, mod)" >&2; exit 2; }
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

# The quick scenarios (not marked slow) of one protocol, or of all.
scenarios_of() {
    local protocol=$1 f
    for f in "$scratch"/models/*.toml; do
        grep -q '^slow = true' "$f" && continue
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

cargo build --release --quiet --manifest-path "$scratch/Cargo.toml" --bin elect
elect="$CARGO_TARGET_DIR/release/elect"
for module in "${modules[@]}"; do
    file="src/protocols/$module.rs"
    protocol=$(protocol_of "$module")
    [ -n "$protocol" ] || { echo "mutation-campaign: unknown module $module" >&2; exit 2; }
    n=0
    cargo mutants --list --json -f "$file" --exclude-re "$exclude" --dir "$scratch" \
        | jq -c '.[]' | while read -r mutant; do
        n=$((n + 1))
        [ "$limit" -gt 0 ] && [ "$n" -gt "$limit" ] && break
        name=$(jq -r .name <<<"$mutant")
        started=$(date +%s)
        git -C "$scratch" checkout -q -- "$file"
        apply "$mutant"
        caught_by=none
        tiers="{}"
        if ! cargo build --release --quiet --manifest-path "$scratch/Cargo.toml" --bin elect 2>/dev/null; then
            caught_by=unviable
        else
            check=$(cd "$scratch" && verdict 150 "$elect" check "$protocol")
            tiers=$(jq -c --arg v "$check" '.check=$v' <<<"$tiers")
            if [ "$check" = missed ]; then
                scenarios=missed
                while read -r scenario; do
                    v=$(cd "$scratch" && verdict 150 "$elect" check "$scenario")
                    if [ "$v" != missed ]; then scenarios="$v: $(basename "$scenario" .toml)"; break; fi
                done < <(scenarios_of "$protocol")
                tiers=$(jq -c --arg v "$scenarios" '.scenarios=$v' <<<"$tiers")
                if [ "$scenarios" = missed ]; then
                    filter="protocols::$module"; [ "$module" = mod ] && filter="protocols::"
                    unit=$(cd "$scratch" && verdict 600 cargo test --quiet --lib "$filter")
                    tiers=$(jq -c --arg v "$unit" '.unit=$v' <<<"$tiers")
                    [ "$unit" = missed ] || caught_by=unit
                else
                    caught_by=scenarios
                fi
            else
                caught_by=check
            fi
        fi
        jq -cn --arg name "$name" --arg module "$module" --arg caught_by "$caught_by" \
            --argjson tiers "$tiers" --argjson seconds $(( $(date +%s) - started )) \
            '{module:$module, mutant:$name, caught_by:$caught_by, tiers:$tiers, seconds:$seconds}' \
            | tee -a "$out"
    done
    git -C "$scratch" checkout -q -- "$file"
done
