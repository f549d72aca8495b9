#!/bin/bash
# Stand-in for mkinitcpio around one build hook (tests/mkinitcpio/run uses it;
# mkinitcpio is not packaged for Debian).
#
# Usage: harness.bash INSTALL_HOOK HOOKS_DIR BUILDROOT RECORD
# Environment: T_HOOKS (HOOKS, space-separated), T_EFFECTIVE_HOOKS (when set:
# mkinitcpio's _hooks, HOOKS after -A/-S), T_MODULES (MODULES), and
# EARLYMOD_BINARY passed through to the hook.
#
# It defines the functions mkinitcpio gives build hooks, each of which
# records its call in RECORD (one tab-separated line: the function and its
# arguments) and, like mkinitcpio, puts files, directories and links into
# BUILDROOT (tests/mkinitcpio/run makes a boot image of that tree). It then
# sources INSTALL_HOOK the way mkinitcpio's run_build_hook does (MODULES,
# BINARIES, FILES local and empty unless T_MODULES is given) and calls
# build(). The last line of RECORD is `status<TAB>N`, build()'s return value.
# Facts from mkinitcpio's `functions` file: add_binary resolves a bare name
# on PATH and fails on a missing file; add_symlink overwrites an existing
# link; add_runscript names the runtime hook after the file of its caller
# and installs HOOKS_DIR/NAME as /hooks/NAME, mode 755; error returns 1.

# SC2059: the message functions take a printf format, as mkinitcpio's do.
# SC2034: HOOKS, MODULES and KERNELVERSION are for the sourced hook.
# shellcheck disable=SC2059,SC2034

install_hook=$1 hooks_dir=$2 BUILDROOT=$3 record=$4
export BUILDROOT
: >"$record"

rec() {
    local IFS=$'\t'
    printf '%s\n' "$*" >>"$record"
}

msg() { rec msg "$(printf "$@")"; }
msg2() { rec msg2 "$(printf "$@")"; }
plain() { rec plain "$(printf "$@")"; }
quiet() { :; }
warning() { rec warning "$(printf "$@")"; }
error() {
    rec error "$(printf "$@")"
    return 1
}

map() {
    local r=0 arg
    for arg in "${@:2}"; do
        "$1" "$arg" || r=1
    done
    return "$r"
}

in_array() {
    local item needle=$1
    shift
    for item in "$@"; do
        [[ "$item" == "$needle" ]] && return 0
    done
    return 1
}

add_dir() {
    rec add_dir "$@"
    [[ "$1" == /?* ]] || return 1
    mkdir -p "$BUILDROOT$1"
}

add_file() {
    rec add_file "$@"
    local src=$1 dest=${2:-$1} mode=$3
    if [[ ! -f "$src" ]]; then
        error "file not found: '%s'" "$src"
        return 1
    fi
    mkdir -p "$BUILDROOT${dest%/*}"
    cp --remove-destination "$src" "$BUILDROOT$dest" || return 1
    [[ -z "$mode" ]] || chmod "$mode" "$BUILDROOT$dest"
}

add_binary() {
    rec add_binary "$@"
    local binary=$1
    if [[ "$binary" != /* ]]; then
        if ! binary=$(type -P "$1"); then
            error "binary not found: '%s'" "$1"
            return 1
        fi
    fi
    add_file "$binary" "${2:-$binary}" "$3"
}

add_symlink() {
    rec add_symlink "$@"
    (( $# == 1 || $# == 2 )) || return 1
    mkdir -p "$BUILDROOT${1%/*}"
    ln -sfn "${2:-$1}" "$BUILDROOT$1"
}

add_module() {
    rec add_module "$@"
}

add_full_dir() { rec add_full_dir "$@"; }
add_udev_rule() { rec add_udev_rule "$@"; }
add_firmware() { rec add_firmware "$@"; }
add_all_modules() { rec add_all_modules "$@"; }
add_checked_modules() { rec add_checked_modules "$@"; }

add_runscript() {
    # mkinitcpio: the name is the basename of the caller's file.
    local name=${BASH_SOURCE[1]##*/}
    rec add_runscript "$name"
    if [[ ! -f "$hooks_dir/$name" ]]; then
        error "runtime script for '%s' not found" "$name"
        return 1
    fi
    mkdir -p "$BUILDROOT/hooks"
    cp "$hooks_dir/$name" "$BUILDROOT/hooks/$name" && chmod 755 "$BUILDROOT/hooks/$name"
}

KERNELVERSION=${T_KERNELVERSION:-6.1.0-test}
read -r -a HOOKS <<<"${T_HOOKS:-}"
if [[ -n "${T_EFFECTIVE_HOOKS+set}" ]]; then
    read -r -a _hooks <<<"$T_EFFECTIVE_HOOKS"
fi

run_build_hook() {
    # shellcheck disable=SC2034
    local MODULES=() BINARIES=() FILES=() SCRIPT=''
    [[ -z "${T_MODULES:-}" ]] || read -r -a MODULES <<<"$T_MODULES"
    unset -f build
    # shellcheck disable=SC1090
    if ! . "$install_hook"; then
        error 'Failed to read %s' "$install_hook"
        return 1
    fi
    if ! declare -f build >/dev/null; then
        error "Hook '%s' has no build function" "$install_hook"
        return 1
    fi
    build
}

run_build_hook
rec status "$?"
