#!/bin/bash
# Host side of blk-pressure.sh: a small guest, and a writable host folder
# for the backing file so that 600 MiB of data do not live in guest RAM.
set -u
d=$(mktemp -d /tmp/vdk-pressure.XXXXXX) || exit 1
trap 'rm -rf "$d"' EXIT
"$(dirname "$0")/run" -q -t 600 -m 384 --rw "$d" -- \
	"$(cd "$(dirname "$0")" && pwd)/blk-pressure.sh" "$d"
