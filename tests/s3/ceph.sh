#!/bin/bash
# A throw-away single-node Ceph cluster with a RADOS Gateway (S3) for tests.
#
#   ceph.sh start DIR   install the packages if missing (as root), start one
#                       monitor, one in-memory OSD and radosgw on 127.0.0.1,
#                       create an S3 user and a bucket, write DIR/s3.env
#   ceph.sh stop DIR    stop exactly the daemons that `start DIR` recorded
#
# With XVA_CEPH_OWNER_PID set, `start` also leaves a watchdog that stops
# the cluster once that process is gone (a test runner killed before it
# could clean up).
#
# Exit status: 0 done, 77 the packages are missing and cannot be installed
# (tests skip), anything else a failure.  Daemon logs are in DIR/log/.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
PKGS="ceph-mon ceph-osd radosgw ceph-common"
ACCESS_KEY=XVATESTACCESSKEY0001
SECRET_KEY=xvaTestSecretKey0000000000000000000000001
REGION=us-east-1
BUCKET=xva-test

say () { printf 'ceph.sh: %s\n' "$*" >&2; }
die () { say "$*"; exit 1; }

have_packages () {
  local p
  for p in $PKGS; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = \
      "install ok installed" ] || return 1
  done
  command -v ceph-mon >/dev/null && command -v radosgw >/dev/null
}

install_packages () {
  have_packages && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "SKIP: packages $PKGS are missing and this is not root"
    exit 77
  fi
  say "installing $PKGS"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  if ! apt-get install -y -qq --no-install-recommends $PKGS >/dev/null 2>&1
  then
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    if ! apt-get install -y -qq --no-install-recommends $PKGS >/dev/null; then
      say "SKIP: cannot install $PKGS"
      exit 77
    fi
  fi
  have_packages || { say "SKIP: $PKGS not usable after install"; exit 77; }
}

# N free TCP ports on 127.0.0.1, one per line.
free_ports () {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

# Runs a daemon in the foreground of a background job; records its PID.
spawn () {
  local name=$1
  shift
  "$@" >"$DIR/log/$name.out" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
}

# True if PID is alive and was started with this cluster's ceph.conf.
ours () {
  local pid=$1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR/ceph.conf"
}

# Waits up to $1 tenths of a second for a command to succeed.
wait_for () {
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

start () {
  install_packages
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [ -e "$DIR/ceph.conf" ] && die "$DIR already holds a cluster"
  mkdir -p "$DIR/log" "$DIR/pids" "$DIR/mon" "$DIR/osd" "$DIR/run" \
           "$DIR/rgw"
  local ports mon_port rgw_port fsid osd_uuid
  local tls_port frontends
  ports=$(free_ports 3)
  mon_port=$(sed -n 1p <<<"$ports")
  rgw_port=$(sed -n 2p <<<"$ports")
  tls_port=$(sed -n 3p <<<"$ports")
  frontends="beast endpoint=127.0.0.1:$rgw_port"
  # HTTPS too, with a throw-away certificate for 127.0.0.1 / localhost.
  if command -v openssl >/dev/null \
     && mkdir -p "$DIR/tls" \
     && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
          -nodes -days 2 -subj /CN=localhost \
          -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.localhost" \
          -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" \
          >"$DIR/log/openssl.out" 2>&1; then
    frontends="$frontends ssl_endpoint=127.0.0.1:$tls_port"
    frontends="$frontends ssl_certificate=$DIR/tls/cert.pem"
    frontends="$frontends ssl_private_key=$DIR/tls/key.pem"
  else
    tls_port=
  fi
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)

  cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file =
debug ms = 0
debug rgw = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.05
mon osd auto mark in = true
mon osd auto mark new in = true
mon osd auto mark auto out in = true

[mon]
mon data = $DIR/mon/\$id
mon initial members = a

[osd]
osd data = $DIR/osd/\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd memory target = 536870912
osd op num shards = 1
osd op num threads per shard = 2
osd max object size = 134217728

[client]
keyring = $DIR/keyring
rgw data = $DIR/rgw
rgw frontends = $frontends
rgw gc obj min wait = 2
rgw gc processor period = 2
rgw gc processor max time = 2
rgw thread pool size = 32
rgw enable usage log = false
rgw dns name = localhost
EOF
  local conf=(-c "$DIR/ceph.conf")

  monmaptool --create --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null
  ceph-mon "${conf[@]}" --mkfs -i a --monmap "$DIR/monmap" \
    >"$DIR/log/mon-mkfs.out" 2>&1 || die "mon mkfs failed: $DIR/log"
  spawn mon ceph-mon "${conf[@]}" -f -i a

  # `osd new` waits for the monitor itself.
  local id
  id=$(ceph "${conf[@]}" --connect-timeout 30 osd new "$osd_uuid" \
         2>"$DIR/log/osd-new.out") \
    || die "monitor did not come up or osd new failed: $DIR/log"
  [[ $id =~ ^[0-9]+$ ]] || die "osd new said '$id'"
  mkdir -p "$DIR/osd/$id"
  ceph-osd "${conf[@]}" -i "$id" --mkfs --osd-uuid "$osd_uuid" \
    >"$DIR/log/osd-mkfs.out" 2>&1 || die "osd mkfs failed: $DIR/log"
  spawn osd ceph-osd "${conf[@]}" -f -i "$id"
  # radosgw waits for the OSD (its pools need active placement groups)
  # and answers HTTP only once it is ready.
  spawn rgw radosgw "${conf[@]}" -f -n client.rgw.test
  wait_for 600 curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/" \
    || die "radosgw did not come up: $DIR/log"

  radosgw-admin "${conf[@]}" user create --uid=xva-test \
    --display-name="xva test" --access-key="$ACCESS_KEY" \
    --secret="$SECRET_KEY" >"$DIR/log/user.out" 2>&1 \
    || die "radosgw-admin user create failed: $DIR/log/user.out"

  # The bucket, made with curl's own SigV4 signing.
  local code
  code=$(curl -s -o "$DIR/log/bucket.out" -w '%{http_code}' -X PUT \
           --aws-sigv4 "aws:amz:$REGION:s3" \
           --user "$ACCESS_KEY:$SECRET_KEY" \
           -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
           "http://127.0.0.1:$rgw_port/$BUCKET")
  [ "$code" = 200 ] || die "bucket create: HTTP $code ($DIR/log/bucket.out)"

  cat >"$DIR/s3.env" <<EOF
XVA_S3_ENDPOINT=http://127.0.0.1:$rgw_port
XVA_S3_REGION=$REGION
XVA_S3_ACCESS_KEY=$ACCESS_KEY
XVA_S3_SECRET_KEY=$SECRET_KEY
XVA_S3_BUCKET=$BUCKET
XVA_S3_VHOST_ENDPOINT=http://localhost:$rgw_port
EOF
  if [ -n "$tls_port" ] && curl -s -o /dev/null --cacert "$DIR/tls/cert.pem" \
       "https://127.0.0.1:$tls_port/"; then
    cat >>"$DIR/s3.env" <<EOF
XVA_S3_TLS_ENDPOINT=https://127.0.0.1:$tls_port
XVA_S3_CA_FILE=$DIR/tls/cert.pem
EOF
  fi
  local owner=${XVA_CEPH_OWNER_PID:-}
  if [[ $owner =~ ^[0-9]+$ ]]; then
    (
      while kill -0 "$owner" 2>/dev/null && [ -e "$DIR/pids/mon.pid" ]; do
        sleep 1
      done
      [ -e "$DIR/pids/mon.pid" ] && bash "$SELF" stop "$DIR"
    ) </dev/null >/dev/null 2>&1 &
  fi
  say "cluster up in $DIR: endpoint http://127.0.0.1:$rgw_port"
}

stop () {
  [ -d "$DIR" ] || return 0
  DIR=$(cd "$DIR" && pwd)
  [ -d "$DIR/pids" ] || return 0
  local f pid pids=() i
  # radosgw first, then the OSD, then the monitor.
  for f in rgw osd mon; do
    [ -r "$DIR/pids/$f.pid" ] || continue
    pid=$(cat "$DIR/pids/$f.pid")
    [[ $pid =~ ^[0-9]+$ ]] || continue
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((i = 0; i < 30; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do
      ours "$pid" && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if ours "$pid"; then
      say "pid $pid ignored SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do
      ours "$pid" || break
      sleep 0.1
    done
  done
  rm -f "$DIR"/pids/*.pid
}

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
