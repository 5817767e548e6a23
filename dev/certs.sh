#!/usr/bin/env bash
# Makes a local certificate authority and a broker certificate for 127.0.0.1 and localhost, for
# a secured local Kafka (dev/kafka.sh --secure DIR). Files already there are kept, so a broker
# restarted on the same folder keeps the CA its clients trust.
#   dev/certs.sh DIR
# Writes DIR/ca.pem (what clients trust: librdkafka's ssl.ca.location, or a Java PEM
# truststore), DIR/ca.key, DIR/broker.p12 (the broker's key and certificate chain, PKCS#12) and
# DIR/keystore-password (the password of broker.p12). Keys stay in DIR, which is a data folder,
# never committed.
set -euo pipefail
dir=${1:?usage: certs.sh DIR}
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077
if [[ ! -f ca.pem ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=storefront local CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
fi
if [[ ! -f broker.p12 ]]; then
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout broker.key -out broker.csr 2>/dev/null
  # Clients check the broker's name against the subject alternative names (librdkafka's
  # ssl.endpoint.identification.algorithm=https is the default).
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
  openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -extfile broker.ext -out broker.pem 2>/dev/null
  head -c 18 /dev/urandom | base64 | tr '+/' '-_' >keystore-password
  openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
    -passout "file:keystore-password" -out broker.p12
  rm -f broker.csr broker.ext broker.key ca.srl
fi
