#!/usr/bin/env bash
# Starts mongo-java-server (a MongoDB wire-protocol server, not MongoDB) on 127.0.0.1.
#   dev/mongodb.sh PORT memory       data in memory, gone when it stops
#   dev/mongodb.sh PORT FILE         data in an H2 file, kept across restarts
# The process becomes the JVM (exec): SIGTERM stops it and closes the file, SIGKILL is a crash.
# Prints "listening on 127.0.0.1:PORT" once it accepts connections.
set -euo pipefail
DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$DEV_DIR/java.sh"

(($# == 2)) || fail "usage: mongodb.sh PORT memory|FILE"
classpath=$(java_classpath)
exec java -Xms32m "-Xmx${STOREFRONT_MONGODB_HEAP:-512m}" -XX:+ExitOnOutOfMemoryError \
  -cp "$classpath" storefront.dev.LocalMongoServer 127.0.0.1 "$1" "$2"
