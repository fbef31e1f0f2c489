#!/bin/sh
# The RabbitMQ test image of test/modules (committed from the host image: Debian's rabbitmq-server):
# what docker-library/rabbitmq's image does for `rabbitmq-server`: as root, make the data dir the
# rabbitmq user's and re-run as it, with the image's configuration (guest may log in from other
# hosts, logs on the console). RABBITMQ_DEFAULT_USER/PASS/VHOST are read by RabbitMQ itself.
set -eu
[ "$1" = rabbitmq-server ] || exec "$@"
if [ "$(id -u)" = 0 ]; then
  mkdir -p /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
  printf 'loopback_users.guest = false\nlisteners.tcp.default = 5672\nlog.console = true\nlog.file = false\n' > /etc/rabbitmq/rabbitmq.conf
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq "$0" "$@"
fi
exec /usr/lib/rabbitmq/bin/rabbitmq-server
