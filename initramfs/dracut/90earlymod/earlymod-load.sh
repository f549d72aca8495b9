#!/bin/sh
# dracut cmdline hook: load the modules named by rd.modules_load=,
# rd.driver.pre= (dracut's /etc/cmdline.d counts) and modules-load.d, with
# earlymod, before udev starts. The log goes to the kernel log, where it is
# seen on the console and kept after the switch to the real root.

if [ -x /usr/sbin/earlymod ]; then
    /usr/sbin/earlymod load --kmsg || warn "earlymod: some modules failed to load (see the kernel log)"
fi
