#!/bin/bash
# dracut module "earlymod": earlymod loads the kernel modules of the image in
# place of kmod. It installs the static earlymod binary with its modprobe,
# insmod, rmmod and lsmod links where kmod's would be, and a cmdline hook that
# runs `earlymod load` (rd.modules_load=, rd.driver.pre=, modules-load.d)
# before udev starts.
#
# The binary is $EARLYMOD_BINARY when set, else earlymod on PATH or in the
# usual sbin directories.

# The earlymod binary on the build host, or nothing.
earlymod_binary() {
    local _p
    for _p in "${EARLYMOD_BINARY-}" "$(command -v earlymod 2> /dev/null)" \
        /usr/sbin/earlymod /usr/local/sbin/earlymod /sbin/earlymod; do
        [[ -n $_p && -x $_p ]] && {
            echo "$_p"
            return 0
        }
    done
    return 1
}

# The module names that the modules-load.d files of the build host list
# (comments start with # or ;). These are what `earlymod load` loads at boot
# when the files are in the image, so their modules must be there too.
earlymod_modules_load_names() {
    local _d _f _line
    for _d in /etc/modules-load.d /run/modules-load.d /usr/local/lib/modules-load.d \
        /usr/lib/modules-load.d /lib/modules-load.d; do
        for _f in "${dracutsysrootdir-}$_d"/*.conf; do
            [[ -f $_f ]] || continue
            while read -r _line || [[ -n $_line ]]; do
                case $_line in
                '' | '#'* | ';'*) continue ;;
                esac
                echo "$_line"
            done < "$_f"
        done
    done
}

# called by dracut
check() {
    # Without the binary the image would have no modprobe at all.
    earlymod_binary > /dev/null || return 1
    return 0
}

# called by dracut
depends() {
    # kernel-modules brings the module files, modprobe.d and the depmod run
    # that writes the image's index files, which earlymod reads.
    echo kernel-modules
    return 0
}

# called by dracut
installkernel() {
    local _names
    _names=$(earlymod_modules_load_names)
    # dracut installs add_drivers and force_drivers itself only when it
    # builds with kernel modules; naming them here keeps what earlymod is
    # told to load and what the image holds together. -o: a name that is
    # built in or unknown is not an error of the image.
    # shellcheck disable=SC2086
    hostonly='' instmods -o $_names ${add_drivers-} ${force_drivers-}
    return 0
}

# called by dracut
install() {
    local _bin _tool _dir
    _bin=$(earlymod_binary) || {
        dfatal "earlymod: no earlymod binary (set EARLYMOD_BINARY)"
        return 1
    }
    # Static: no libraries follow it. inst_simple keeps dracut from
    # resolving it through ldd.
    inst_simple "$_bin" /usr/sbin/earlymod

    # kmod's tools may be in the image already (99base asks for modprobe and
    # rmmod); whichever ran first, earlymod's links win.
    for _tool in modprobe insmod rmmod lsmod; do
        for _dir in /sbin /usr/sbin /bin /usr/bin; do
            [[ -L $initdir$_dir ]] && continue
            if [[ -e $initdir$_dir/$_tool || -L $initdir$_dir/$_tool ]]; then
                rm -f "$initdir$_dir/$_tool"
            fi
        done
        ln_r /usr/sbin/earlymod "/usr/sbin/$_tool"
    done

    inst_multiple -o "/etc/modules-load.d/*.conf" "/usr/lib/modules-load.d/*.conf" \
        "/lib/modules-load.d/*.conf"
    inst_hook cmdline 02 "$moddir/earlymod-load.sh"

    # In a systemd image, systemd-modules-load.service would load the same
    # lists with libkmod at the same time as the hook: earlymod load does
    # its job, so it is masked.
    if dracut_module_included "systemd"; then
        mkdir -p "$initdir$systemdsystemconfdir"
        ln -sf /dev/null "$initdir$systemdsystemconfdir/systemd-modules-load.service"
    fi
}
