#!/usr/bin/env bash
# The image test: build docker/Dockerfile with podman and run the image as the Kubernetes
# manifests run it (dev overlay: user 10001, read-only root filesystem, no capabilities,
# emptyDir mounts as tmpfs, the ConfigMaps' environment) against the managed local stack,
# then check the end to end flow through the containers and the image's HEALTHCHECK:
#
#   sample feeds (host, loopback) -> poller container -> Kafka -> worker container -> ES
#   -> `wirewatch search Kursk` finds the story with its 3 copies
#
# Needs root (rootful podman) and Debian's podman, runc and debootstrap (installed if missing).
# No registry can be pulled from here, so the base image is a stand-in built with debootstrap
# (docs/decisions.md, "The image (issue 13)"); it is cached in podman's store, as are the
# build's layers. Options:
#   --cold   rebuild the stand-in base and every layer (measures a cold build)
#   --keep   leave the image tags in place (default; the layers are the cache anyway)
# Prints each figure (build times, image size, start to ready) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

COLD=0
for arg in "$@"; do
    case "$arg" in
        --cold) COLD=1 ;;
        --keep) ;;
        -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test-image: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

# The stand-in for python:3.11.14-slim-bookworm (the Dockerfile's PYTHON_IMAGE); bump the
# revision when its recipe below changes, so a cached one is not reused.
BASE_REVISION=1
BASE_IMAGE=localhost/wirewatch-standin/python:3.11-slim-bookworm-r$BASE_REVISION
IMAGE=localhost/wirewatch:test
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
# This sandbox refuses the default RLIMIT_NPROC; lower explicit limits are allowed.
LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=1000:1000)

PASSED=0
FIGURES=()
say() { echo "test-image: $*" >&2; }
ok() { PASSED=$((PASSED + 1)); say "ok - $*"; }
fail() {
    say "FAILED - $*"
    echo "image checks: $PASSED passed, 1 failed"
    exit 1
}
figure() { FIGURES+=("$(printf '%-34s %s' "$1" "$2")"); }
clock() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(clock)" 'BEGIN { printf "%.1f", b - a }'; }

if [ "$(id -u)" != 0 ]; then
    fail "needs root: rootful podman runs the containers here (CI runs as root)"
fi

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi
bash scripts/bootstrap.sh
PY=$ROOT/.venv/bin/python
WIREWATCH=$ROOT/.venv/bin/wirewatch

WORK=$(mktemp -d /tmp/wirewatch-image-test.XXXXXX)
RUN_ID=$$
CONTAINERS=()
FEEDS_PID=
export WIREWATCH_HOME=$WORK/home

cleanup() {
    local status=$?
    set +e
    for name in "${CONTAINERS[@]}"; do
        if [ "$status" != 0 ]; then
            say "last lines of $name:"
            "${PODMAN[@]}" logs --tail 40 "$name" 2>&1 | sed 's/^/    /' >&2
        fi
        "${PODMAN[@]}" rm -f -t 10 "$name" >/dev/null 2>&1
    done
    [ -n "$FEEDS_PID" ] && kill "$FEEDS_PID" 2>/dev/null && wait "$FEEDS_PID" 2>/dev/null
    if [ -d "$WIREWATCH_HOME/stack" ]; then
        "$WIREWATCH" stack down --purge >/dev/null 2>&1 || say "could not stop the stack in $WIREWATCH_HOME"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the base image: a stand-in for python:3.11.14-slim-bookworm, made with debootstrap ----
build_base() {
    local rootfs=$WORK/rootfs
    say "building the stand-in base image $BASE_IMAGE (debootstrap bookworm minbase + python3)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
        bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap could not build the base"; }
    # Like the official image: pip installs system-wide, and the trust store is this
    # machine's (PyPI is reached through a proxy whose CA only the host bundle has).
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "${PODMAN[@]}" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'LABEL org.wirewatch.standin-for=python:3.11.14-slim-bookworm' \
        --change 'CMD ["python3"]' \
        - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
}

say "== base image"
started=$(clock)
if [ "$COLD" = 1 ] || ! "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    build_base
    figure "base image (debootstrap + import)" "$(since "$started") s, built"
else
    figure "base image" "cached ($BASE_IMAGE)"
fi
ok "base image $BASE_IMAGE"

# ---- the image ----
say "== build docker/Dockerfile"
build_flags=(--format docker --layers --network host --build-arg "PYTHON_IMAGE=$BASE_IMAGE")
[ "$COLD" = 1 ] && build_flags+=(--no-cache)
started=$(clock)
"${PODMAN[@]}" build "${LIMITS[@]}" "${build_flags[@]}" -f docker/Dockerfile -t "$IMAGE" . \
    >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; fail "podman build failed"; }
build_s=$(since "$started")
cached_steps=$(grep -c -- '--> Using cache' "$WORK/build.log" || true)
figure "image build" "$build_s s ($cached_steps steps from cache)"
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
figure "image size" "$((size / 1000000)) MB"
ok "built $IMAGE in ${build_s}s"

healthcheck=$("${PODMAN[@]}" image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
case "$healthcheck" in
    *wirewatch-healthcheck*) ok "image carries the HEALTHCHECK" ;;
    *) fail "image has no HEALTHCHECK (got $healthcheck)" ;;
esac
user=$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$user" = "10001:10001" ] && ok "image runs as $user" || fail "image user is '$user', not 10001:10001"

# ---- the managed stack and the sample feeds, on the host ----
say "== managed local stack"
port() { "$PY" -c 'from pipeline.stack.process import free_port; print(free_port())'; }
KAFKA_PORT=$(port) CONTROLLER_PORT=$(port) ES_PORT=$(port) POLLER_PORT=$(port) WORKER_PORT=$(port)
started=$(clock)
"$WIREWATCH" stack up --kafka-port "$KAFKA_PORT" --kafka-controller-port "$CONTROLLER_PORT" \
    --es-port "$ES_PORT" >&2 || fail "wirewatch stack up failed"
figure "managed stack up" "$(since "$started") s"
KAFKA=127.0.0.1:$KAFKA_PORT
ES=http://127.0.0.1:$ES_PORT

"$PY" scripts/image_harness.py serve-feeds "$WORK/feeds" &
FEEDS_PID=$!
for _ in $(seq 100); do [ -f "$WORK/feeds/feeds.yaml" ] && break; sleep 0.1; done
[ -f "$WORK/feeds/feeds.yaml" ] || fail "the sample feed server did not start"
chmod 0755 "$WORK/feeds"

# What differs from the dev overlay, and why: the local stack is plaintext on loopback (the
# manifests' SASL_SSL users and CA secrets are for Strimzi/ECK); --network host shares the
# ports with this machine, so they are free ones; the sample site is on loopback, which the
# fetcher refuses unless allowed; the ordinal comes from the pod-index label in Kubernetes.
common=(--set "WIREWATCH_KAFKA_BOOTSTRAP=$KAFKA" --set WIREWATCH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT
    --unset WIREWATCH_KAFKA_SASL_MECHANISM --unset WIREWATCH_KAFKA_SSL_CAFILE
    --unset WIREWATCH_KAFKA_USERNAME --set "WIREWATCH_ES_URL=$ES" --unset WIREWATCH_ES_CA_CERTS)
"$PY" scripts/image_harness.py env setup "${common[@]}" >"$WORK/setup.env"
"$PY" scripts/image_harness.py env poller "${common[@]}" --set "WIREWATCH_POLLER_PORT=$POLLER_PORT" \
    --set WIREWATCH_POLLER_ORDINAL=0 --set WIREWATCH_FETCH_ALLOW_NETWORKS=127.0.0.0/8 \
    >"$WORK/poller.env"
"$PY" scripts/image_harness.py env worker "${common[@]}" --set "WIREWATCH_WORKER_WEB_PORT=$WORKER_PORT" \
    >"$WORK/worker.env"

run_container() {  # role, extra podman options..., --, command...
    local role=$1
    shift
    local extra=()
    while [ "$1" != -- ]; do extra+=("$1"); shift; done
    shift
    local options
    mapfile -t options < <("$PY" scripts/image_harness.py podman-options "$role")
    local name=wirewatch-image-test-$RUN_ID-$role
    CONTAINERS+=("$name")
    "${PODMAN[@]}" run --name "$name" --network host "${LIMITS[@]}" "${options[@]}" \
        --env-file "$WORK/$role.env" "${extra[@]}" "$IMAGE" "$@"
}

# ---- setup (the setup Job's role), then the poller and the worker ----
say "== containers"
say "not run here: the setup Job's Kibana import (no Kibana on this machine; see tests/unit/kibana)"
run_container setup -- setup >"$WORK/setup.log" 2>&1 \
    || { cat "$WORK/setup.log" >&2; fail "the setup container failed"; }
grep -q "kafka: .*topics created" "$WORK/setup.log" && grep -q "^elasticsearch:" "$WORK/setup.log" \
    || { cat "$WORK/setup.log" >&2; fail "setup did not report topics and templates"; }
ok "setup container created the topics and installed the templates"

# One after the other, so each start-to-ready figure is that container's own (the worker
# first: it must be consuming before the poller's articles arrive anyway). podman's stderr
# goes to a file: without systemd it logs an error per container about the HEALTHCHECK
# timer (harmless here: the check is run explicitly below).
poller_name=wirewatch-image-test-$RUN_ID-poller
worker_name=wirewatch-image-test-$RUN_ID-worker
run_container worker --detach -- worker --no-setup >/dev/null 2>>"$WORK/podman.log" \
    || { cat "$WORK/podman.log" >&2; fail "podman could not start the worker container"; }
worker_ready=$("$PY" scripts/image_harness.py wait-ready "http://127.0.0.1:$WORKER_PORT/readyz" \
    --container "$worker_name" --deadline 300) || fail "the worker container did not become ready"
figure "worker: start to ready (/readyz)" "$worker_ready s"
ok "worker container ready (/readyz) after ${worker_ready}s"
run_container poller --detach -v "$WORK/feeds:/etc/wirewatch/feeds:ro" -- poll \
    >/dev/null 2>>"$WORK/podman.log" \
    || { cat "$WORK/podman.log" >&2; fail "podman could not start the poller container"; }
poller_ready=$("$PY" scripts/image_harness.py wait-ready "http://127.0.0.1:$POLLER_PORT/readyz" \
    --container "$poller_name" --deadline 120) || fail "the poller container did not become ready"
figure "poller: start to ready (/readyz)" "$poller_ready s"
ok "poller container ready (/readyz) after ${poller_ready}s"

for name in "$poller_name" "$worker_name"; do
    [ "$("${PODMAN[@]}" exec "$name" id -u)" = 10001 ] || fail "$name does not run as uid 10001"
    if "${PODMAN[@]}" exec "$name" touch /opt/venv/probe 2>/dev/null; then
        fail "$name can write to its root filesystem"
    fi
    "${PODMAN[@]}" exec "$name" touch /var/lib/wirewatch/probe /tmp/probe \
        || fail "$name cannot write its state and tmp mounts"
done
ok "both containers run as uid 10001 on a read-only root with writable state and /tmp"

# ---- end to end through the containers ----
say "== end to end"
export WIREWATCH_KAFKA_BOOTSTRAP=$KAFKA WIREWATCH_ES_URL=$ES
summary=$("$PY" scripts/image_harness.py check-pipeline --deadline 300) \
    || fail "articles did not flow through the containers"
say "$summary"
ok "the containerised poller and worker indexed every polled article, none dead-lettered"
found=$("$WIREWATCH" search Kursk) || fail "wirewatch search Kursk failed"
echo "$found" | sed 's/^/    /' >&2
echo "$found" | grep -q "Kursk" && echo "$found" | grep -q "\[3 copies, 3 outlets\]" \
    || fail "wirewatch search Kursk did not show the story with 3 copies from 3 outlets"
ok "wirewatch search Kursk finds the story once, with its 3 copies"

# ---- the image's HEALTHCHECK ----
say "== HEALTHCHECK"
for name in "$poller_name" "$worker_name"; do
    "${PODMAN[@]}" healthcheck run "$name" >/dev/null || fail "podman healthcheck run $name: unhealthy"
done
ok "podman healthcheck run: poller and worker healthy"
# The same check must fail when the role's endpoint does not answer.
if "${PODMAN[@]}" exec -e "WIREWATCH_POLLER_PORT=$(port)" "$poller_name" \
    python /usr/local/bin/wirewatch-healthcheck 2>/dev/null; then
    fail "the healthcheck passed against a port nothing listens on"
fi
ok "the healthcheck fails when the endpoint does not answer"

say "== figures"
for line in "${FIGURES[@]}"; do say "  $line"; done
echo "image checks: $PASSED passed, 0 failed"
