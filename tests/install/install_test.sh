#!/bin/sh
# Installs libliaison from a build tree into a scratch prefix, as a packager
# would, and checks what a program written outside the project gets: a
# header and pkg-config file that build it, a shared library that exports
# liaison_* only, a static library that links on its own (with libzmq,
# libsodium, LMDB and jansson), and bundle verification that gives the
# expected answers on the test vector through both.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/liaison.h lib/libliaison.so lib/libliaison.a lib/pkgconfig/liaison.pc; do
    [ -e "$tmp/prefix/$f" ] || fail "$f was not installed"
done
# Nothing but the library is installed: no private header, no other library.
extra=$(cd "$tmp/prefix" && find . -type f -o -type l | grep -v -e '^./include/liaison.h$' \
        -e '^./lib/libliaison\.' -e '^./lib/pkgconfig/liaison.pc$' || true)
[ -z "$extra" ] || fail "installed beyond the library: $extra"

# The shared library exports the public API and nothing else.
leaked=$(nm -D --defined-only "$tmp/prefix/lib/libliaison.so" | awk '{print $3}' |
         sed 's/@.*//' | grep -v -e '^liaison_' -e '^LIAISON_0$' || true)
[ -z "$leaked" ] || fail "libliaison.so exports internal symbols: $(echo $leaked | head -c 300)"
leaked=$(nm -g --defined-only "$tmp/prefix/lib/libliaison.a" | awk 'NF == 3 {print $3}' |
         grep -v '^liaison_' || true)
[ -z "$leaked" ] || fail "libliaison.a defines internal global symbols: $(echo $leaked | head -c 300)"

export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# LIAISON_TEST_CFLAGS: the sanitizers the library was built with, if any.
cflags="-std=c11 -Wall -Wextra -Wpedantic -Werror ${LIAISON_TEST_CFLAGS:-}"
# shellcheck disable=SC2046
$cc $cflags -o "$tmp/court_shared" "$src/tests/install/court_verify.c" \
    $(pkg-config --cflags --libs liaison) -Wl,-rpath,"$tmp/prefix/lib"
# shellcheck disable=SC2046
$cc $cflags -o "$tmp/court_static" "$src/tests/install/court_verify.c" \
    $(pkg-config --cflags liaison) "$tmp/prefix/lib/libliaison.a" \
    $(pkg-config --libs libzmq libsodium lmdb jansson)
ldd "$tmp/court_static" | grep -q libliaison && fail "court_static still needs libliaison.so"

vec="$src/tests/data/bundle"
for kind in shared static; do
    prog="$tmp/court_$kind"
    out=$("$prog" "$vec/good" "$vec/trusted.roster") ||
        fail "$kind: the good bundle did not verify: $out"
    echo "$out" | grep -q ': verified$' || fail "$kind: no 'verified' line: $out"
    echo "$out" | grep -q 'problem:' && fail "$kind: problems on the good bundle: $out"
    status=0
    out=$("$prog" "$vec/tampered" "$vec/trusted.roster") || status=$?
    [ "$status" -eq 1 ] || fail "$kind: the tampered bundle gave exit $status, not 1: $out"
    echo "$out" | grep -q '^problem: files/ledger.csv:' ||
        fail "$kind: the tampered file is not named: $out"
    status=0
    "$prog" "$tmp/no-such-bundle" "$vec/trusted.roster" >/dev/null 2>&1 || status=$?
    [ "$status" -eq 2 ] || fail "$kind: a missing bundle gave exit $status, not 2"
    echo "install_test: $kind: good verified, tampered refused naming files/ledger.csv"
done
