# Shared by dev/kafka.sh and dev/mongodb.sh: the Java runtime and the classpath that
# scripts/setup.sh resolves with Maven from dev/pom.xml. Sourced, not run.

fail() {
  printf '%s\n' "$*" >&2
  exit 1
}

# The classpath of the local servers: our classes, then every dependency Maven resolved.
java_classpath() {
  command -v java >/dev/null || fail "java not found: install a Java 17 runtime (Debian: openjdk-17-jre-headless)"
  local dev_dir
  dev_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  [[ -f "$dev_dir/target/classpath" ]] ||
    fail "$dev_dir/target/classpath missing: run scripts/setup.sh (it resolves Kafka and mongo-java-server with Maven)"
  echo "$dev_dir/target/classes:$(cat "$dev_dir/target/classpath")"
}
