#!/bin/sh
# The MySQL/MariaDB test image of test/modules (committed from the host image: Debian's mariadb-server):
# what docker-library/mariadb's (and mysql's) docker-entrypoint.sh does for `mariadbd`/`mysqld`, in
# short: as root, make the datadir and socket dir mysql's and re-run as it; on an empty datadir,
# install the system tables, start a temporary server on the socket only (its "ready for connections"
# says port: 0), set the root password (root@localhost and root@'%'), create MARIADB_DATABASE and
# MARIADB_USER (or the MYSQL_* names, as the mariadb image also reads them) with all rights on it,
# stop it, then exec the server listening on every address.
set -eu
case "$1" in mariadbd|mysqld) ;; *) exec "$@" ;; esac
if [ "$(id -u)" = 0 ]; then
  mkdir -p /var/lib/mysql /run/mysqld
  chown -R mysql:mysql /var/lib/mysql /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi
root_pw="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
db="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
user="${MARIADB_USER:-${MYSQL_USER:-}}"
pw="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
# A SQL string literal's inside: backslashes and quotes doubled.
q() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"; }
if [ ! -d /var/lib/mysql/mysql ]; then
  : "${root_pw:?the mariadb image needs MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD)}"
  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=normal --skip-test-db >/dev/null
  "$@" --skip-networking --socket=/run/mysqld/mysqld.sock &
  temp=$!
  until mariadb-admin --socket=/run/mysqld/mysqld.sock -uroot ping >/dev/null 2>&1; do sleep 0.2; done
  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(q "$root_pw")';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$(q "$root_pw")'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    [ -z "$db" ] || echo "CREATE DATABASE \`$db\`;"
    [ -z "$user" ] || echo "CREATE USER '$(q "$user")'@'%' IDENTIFIED BY '$(q "$pw")';"
    [ -z "$user" ] || [ -z "$db" ] || echo "GRANT ALL ON \`$db\`.* TO '$(q "$user")'@'%';"
  } | mariadb --socket=/run/mysqld/mysqld.sock -uroot
  kill "$temp"
  wait "$temp"
fi
exec "$@" --bind-address=0.0.0.0
