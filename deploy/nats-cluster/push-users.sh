#!/bin/sh
# The coordinator's natsReload for nodes on other machines: copy the users file it
# just wrote to every node and ask each to reload. Edit NODES; the coordinator's
# user needs ssh keys for these hosts. Nodes on this machine: reload-local.sh.
set -u
DIR=/etc/nightshift/nats-cluster
NODES="n2@192.168.1.20 n3@192.168.1.30"
status=0
for entry in $NODES; do
  name=${entry%@*}
  host=${entry#*@}
  scp -q "$DIR/users.conf" "$host:$DIR/users.conf.new" &&
    ssh "$host" "mv $DIR/users.conf.new $DIR/users.conf && sudo systemctl reload nightshift-nats@$name" || status=1
done
sh "$DIR/reload-local.sh" || status=1
exit $status
