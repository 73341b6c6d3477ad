#!/usr/bin/env bash
# PostgreSQL for the storage tests: start the local cluster when it is not running, and
# install Debian's server first where there is none. The tests make (and drop) their own
# database in it; they reach it as postgres@127.0.0.1:5432 unless GRIDPATROL_TEST_PG says
# otherwise (an admin URL such as postgresql://user:pw@host:5432/postgres).
set -euo pipefail
[ -n "${GRIDPATROL_TEST_PG:-}" ] && exit 0
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian package postgresql)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
# Local trust for the test superuser on loopback only (this is a test machine's cluster).
if ! $sudo grep -q "gridpatrol-tests" "$hba"; then
  printf '# gridpatrol-tests\nhost all postgres 127.0.0.1/32 trust\n' | $sudo sh -c "cat - '$hba' > '$hba.new' && mv '$hba.new' '$hba'"
  $sudo chown postgres:postgres "$hba"
fi
$sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || $sudo pg_ctlcluster "$version" main start
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 0.2; done
echo "PostgreSQL did not start on 127.0.0.1:5432" >&2
exit 1
