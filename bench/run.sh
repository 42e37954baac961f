#!/usr/bin/env bash
# Benchmarks (issue 5). Usage:
#
#   bench/run.sh [failover|scale|check|all] [ARGS...]
#
#   failover [ROUNDS] [SYSTEMS] [VARIANTS]   etcd (± PreVote), ZooKeeper, elect raft (plain,
#                                           PreVote, CheckQuorum, lease), bully, ring and paxos,
#                                           SIGKILL and SIGSTOP of the leader (default 20 rounds)
#   scale [SIZES]                           UDP runtime at 3,5,9,17,33,65 nodes
#   check                                   cost of model checking; CHECK_LIMIT_SECS (default 600)
#                                           is the time limit of one run, CHECK_MAX_N the largest N
#   all                                     failover, check, scale in turn
#
# Each prints a table and writes raw numbers (CSV), a Markdown table and SVG
# plots under bench/results/. Benchmarks measure; they are not tests.
# Installs etcd and ZooKeeper with apt-get when they are missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

install_peers() {
  local missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  [ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
  command -v java >/dev/null || missing+=(default-jre-headless)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench/run.sh: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

# bench/results/summary.md: the latest tables and plots in one page, ready
# for README.md (links relative to the repository root).
summary() {
  local out=bench/results/summary.md
  {
    echo "## Benchmarks"
    echo
    echo "Measured with \`bench/run.sh all\` (tables below are the latest results files; each states its date, machine and load)."
    for part in failover check scale; do
      [ -f "bench/results/$part.md" ] || continue
      echo
      case $part in
        failover) echo "### Failover beside etcd and ZooKeeper (\`bench/run.sh failover\`)"; echo
                  echo "![failover after SIGKILL](/bench/results/failover-kill.svg)"
                  echo "![failover after SIGSTOP](/bench/results/failover-stop.svg)" ;;
        check)    echo "### Cost of checking (\`bench/run.sh check\`)"; echo
                  echo "![unique states against N](/bench/results/check-states.svg)" ;;
        scale)    echo "### Scale of the UDP runtime (\`bench/run.sh scale\`)"; echo
                  echo "![cold start to leader](/bench/results/scale-leader.svg)"
                  echo "![messages per election](/bench/results/scale-messages.svg)" ;;
      esac
      echo
      cat "bench/results/$part.md"
    done
  } > "$out"
  echo "wrote $out" >&2
}

what=${1:-all}
shift || true
case "$what" in
  failover)
    install_peers
    cargo bench --bench failover -- "$@"
    summary
    ;;
  scale)
    cargo bench --bench scale -- "$@"
    summary
    ;;
  check)
    install_peers
    cargo build --release --bin elect
    cargo bench --bench check_cost -- "$@"
    summary
    ;;
  all)
    install_peers
    cargo build --release --bin elect
    cargo bench --bench failover
    cargo bench --bench check_cost
    cargo bench --bench scale
    summary
    ;;
  summary)
    summary
    ;;
  *)
    echo "bench/run.sh: unknown benchmark '$what' (expected: failover, scale, check or all)" >&2
    exit 2
    ;;
esac
