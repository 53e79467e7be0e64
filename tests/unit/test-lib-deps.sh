#!/bin/sh
# libvdusekit needs libmnl alone (besides libc): none of the command's
# libraries (liburing, libnbd, librbd, librados) may creep into it.
lib=$1
[ -f "$lib" ] || { echo "no library at $lib" >&2; exit 1; }
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "readelf found no NEEDED entry in $lib" >&2; exit 1; }
for n in $needed; do
	case $n in
	libmnl.so.*|libc.so.*|ld-linux*|libpthread.so.*) ;;
	# A sanitizer build links its runtime into everything.
	libasan.so.*|libubsan.so.*|libgcc_s.so.*|libm.so.*) ;;
	*) echo "$lib needs $n: the library must need libmnl and libc only" >&2; exit 1 ;;
	esac
done
echo "$lib needs: $needed"
