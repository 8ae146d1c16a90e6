#!/bin/sh
# ACMEDNSCmd for DNS servers that take RFC 2136 dynamic updates (BIND,
# Knot, PowerDNS...), through nsupdate (Debian: bind9-dnsutils), signed
# with a TSIG key:
#
#   ACMEDNSCmd /usr/local/sbin/acme-dns-nsupdate.sh /etc/apache2/acme-tsig.key ns1.example.org
#
# mod_acmeauto appends `setup NAME VALUE` or `teardown NAME VALUE`, NAME
# being _acme-challenge.<domain>. It runs this as the server's User (so
# that user must be able to read the key file, and nobody else should),
# without a shell and with PATH=/usr/local/bin:/usr/bin:/bin. A non-zero
# exit and what it printed end up in Apache's error log.
#
# The server may carry a port (ns1.example.org:5353; not for an IPv6
# address). nsupdate finds the zone from the name's SOA.
set -eu

if [ $# -ne 5 ]; then
    echo "usage: $0 KEYFILE SERVER[:PORT] setup|teardown NAME VALUE" >&2
    exit 2
fi
keyfile=$1 server=$2 action=$3 name=$4 value=$5

case $server in
    *:*:*) host=$server port=53 ;;          # an IPv6 address
    *:*)   host=${server%:*} port=${server##*:} ;;
    *)     host=$server port=53 ;;
esac

case $action in
    # A short TTL: the record lives for minutes, and a stale negative
    # answer cached by the CA's resolvers would fail the validation.
    setup)    op="update add $name. 60 IN TXT \"$value\"" ;;
    # Only this value: a wildcard and its base name share the name.
    teardown) op="update delete $name. IN TXT \"$value\"" ;;
    *) echo "$0: unknown action '$action'" >&2; exit 2 ;;
esac

printf 'server %s %s\n%s\nsend\n' "$host" "$port" "$op" | nsupdate -k "$keyfile"
