#!/bin/bash
# The bash completion (contrib/bash-completion/vduse-blk) offers what the
# real command takes: its commands and add's long options as `--help`
# lists them, option values, backends and files, and device names from
# `vduse-blk list` without an error when there is no daemon.
# Usage: test-bash-completion.sh COMPLETION-FILE VDUSE-BLK
set -u
comp=$1
blk=$(realpath "$2")
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC1090
. "$comp" || { echo "FAIL: cannot source $comp" >&2; exit 1; }
complete -p vduse-blk | grep -q -- '-F _vduse_blk' || fail "no 'complete -F' for vduse-blk"

# Sets COMP_* as bash does for LINE with the cursor at its end (words
# also split at ':' and '='), runs the function, leaves "COMPREPLY" in $got
# one candidate a line, sorted.
complete_line() {
	local line=$1 w
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_WORDS=()
	# shellcheck disable=SC2001
	read -ra COMP_WORDS <<< "$(sed 's/\([:=]\)/ \1 /g' <<< "$line")"
	case $line in *" ") COMP_WORDS+=("") ;; esac
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_vduse_blk vduse-blk "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort)
}

# expect LINE CANDIDATE...: exactly these candidates.
expect() {
	local line=$1 want
	shift
	complete_line "$line"
	want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
	[ "$got" = "$want" ] ||
		fail "'$line': got [$(echo $got)], want [$(echo $want)]"
}

# has LINE CANDIDATE...: at least these.
has() {
	local line=$1 c
	shift
	complete_line "$line"
	for c in "$@"; do
		grep -qxF -- "$c" <<< "$got" || fail "'$line': no '$c' in [$(echo $got)]"
	done
}

# --- the real command's words -------------------------------------------
help=$("$blk" --help) || fail "$blk --help"
cmds=$(sed -n '/^Commands:/,/^$/p' <<< "$help" | awk '/^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || fail "no commands found in --help"
# shellcheck disable=SC2086
expect "vduse-blk " $cmds
longs=$(sed -n '/^Options of add:/,/^$/p' <<< "$help" | grep -oE -- '--[a-z-]+' | sort -u)
[ -n "$longs" ] || fail "no options of add found in --help"
# shellcheck disable=SC2086
has "vduse-blk add --" $longs --help
# Options of add that take a value are completed as values, not files.
expect "vduse-blk re" recover resize
expect "vduse-blk -" -h --help

# --- option values ---------------------------------------------------------
expect "vduse-blk add --cache " auto buffered direct
expect "vduse-blk add --cache=b" buffered
expect "vduse-blk add -b " 512 4096
expect "vduse-blk add --block-size=4" 4096
has "vduse-blk add --queue-size " 4 256 1024
has "vduse-blk add --user ro" root
expect "vduse-blk add --serial "
expect "vduse-blk add --name "
expect "vduse-blk add -q 4 --read-only --vh" --vhost
expect "vduse-blk recover -" -f --foreground
expect "vduse-blk list " --json
expect "vduse-blk list --json "

# --- backends and files ----------------------------------------------------
mkdir "$tmp/cwd" "$tmp/cwd/images"
: > "$tmp/cwd/disk.img"
: > "$tmp/cwd/images/a.raw"
cd "$tmp/cwd" || exit 1
expect "vduse-blk add " file: memory: null: nbd:// nbds:// nbd+unix:/// rbd: vhost-user: disk.img images/
expect "vduse-blk add --name data -q 2 " file: memory: null: nbd:// nbds:// nbd+unix:/// rbd: vhost-user: \
	disk.img images/
expect "vduse-blk add m" memory:
expect "vduse-blk add nbd" nbd:// nbds:// nbd+unix:///
expect "vduse-blk add r" rbd:
expect "vduse-blk add di" disk.img
expect "vduse-blk add images/" images/a.raw
# After file: bash replaces only what follows the ':'.
expect "vduse-blk add file:d" disk.img
expect "vduse-blk add file:images/" images/a.raw
expect "vduse-blk add vhost-user:d" disk.img
expect "vduse-blk add memory:1G"
# One backend only.
expect "vduse-blk add memory:1G "
expect "vduse-blk del "
cd / || exit 1

# --- device names ------------------------------------------------------------
# A stand-in for the command that lists two devices.
mkdir "$tmp/bin"
cat > "$tmp/bin/vduse-blk" <<'SH'
#!/bin/sh
[ "$1" = list ] || exit 1
printf '%-16s %s\n' NAME NODE scratch /dev/vda vduse-blk0 /dev/vdb
SH
chmod +x "$tmp/bin/vduse-blk"
PATH=$tmp/bin:$PATH
expect "vduse-blk del " scratch vduse-blk0
expect "vduse-blk del s" scratch
expect "vduse-blk del -" -f --force
expect "vduse-blk del --f" --force
expect "vduse-blk del --force " scratch vduse-blk0
expect "vduse-blk del -f s" scratch
expect "vduse-blk stats " scratch vduse-blk0
expect "vduse-blk stats scratch " --json
expect "vduse-blk resize v" vduse-blk0
expect "vduse-blk resize scratch "
expect "vduse-blk upgrade " scratch vduse-blk0
expect "vduse-blk recover " scratch vduse-blk0
expect "vduse-blk recover -f s" scratch
expect "vduse-blk del scratch "
expect "vduse-blk del --force scratch "

# Refused (not root) or no daemon: no names beyond sysfs', and nothing on
# stderr.
sysfs=$(ls /sys/class/vduse 2> /dev/null | grep -vx control)
printf '#!/bin/sh\necho "vduse-blk: list needs root" >&2\nexit 1\n' > "$tmp/bin/vduse-blk"
complete_line "vduse-blk del " 2> "$tmp/err"
[ "$got" = "$(LC_ALL=C sort <<< "$sysfs" | sed '/^$/d')" ] ||
	fail "refused list: got [$(echo $got)], want sysfs's [$(echo $sysfs)]"
[ -s "$tmp/err" ] && fail "refused list: stderr: $(cat "$tmp/err")"
# The real command, which here has no daemon to ask.
cp "$blk" "$tmp/bin/vduse-blk"
complete_line "vduse-blk stats " 2> "$tmp/err"
[ -s "$tmp/err" ] && fail "real list: stderr: $(cat "$tmp/err")"
if [ -z "$sysfs" ] && [ -n "$got" ]; then
	fail "real list without devices offered [$(echo $got)]"
fi

# --- COMP_WORDS and COMP_CWORD alone (no COMP_LINE) ---------------------------
unset COMP_LINE COMP_POINT
cd "$tmp/cwd" || exit 1
COMP_WORDS=(vduse-blk add file : di) COMP_CWORD=4 COMPREPLY=()
_vduse_blk vduse-blk di :
[ "${COMPREPLY[*]}" = disk.img ] || fail "COMP_WORDS alone, file:di: got [${COMPREPLY[*]}]"
COMP_WORDS=(vduse-blk add --cache "") COMP_CWORD=3 COMPREPLY=()
_vduse_blk vduse-blk "" --cache
[ "${COMPREPLY[*]}" = "auto direct buffered" ] ||
	fail "COMP_WORDS alone, --cache: got [${COMPREPLY[*]}]"

[ "$fails" = 0 ] || { echo "$fails failed" >&2; exit 1; }
echo "pass: bash completion"
