#!/bin/sh
# Collector `hris-terminations` (see auditpack.toml and docs/populations.md).
#
# Prints the terminations of the audit period as CSV on standard output; `auditpack fetch`
# writes it into the evidence folder with its provenance sidecar. A real collector would query
# the HRIS API here, e.g. with curl and a token from the environment:
#   curl -fsS -H "Authorization: Basic $BAMBOOHR_TOKEN" "https://api.bamboohr.com/api/gateway.php/nimbus/v1/reports/custom?format=csv"
# The sample reads a local export instead, so that it runs without network.
set -eu
: "${AUDITPACK_PERIOD_START:?run me through auditpack fetch}"
: "${AUDITPACK_PERIOD_END:?run me through auditpack fetch}"
awk -F, -v from="$AUDITPACK_PERIOD_START" -v to="$AUDITPACK_PERIOD_END" \
    'NR == 1 || ($4 >= from && $4 <= to)' collectors/hris-terminations.csv
