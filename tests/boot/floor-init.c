/* The floor of scripts/bench-boot: the least a sequential module loader can
 * do as an initramfs's /init, so that what any real loader spends beyond it
 * is that loader's own overhead.
 *
 * It resolves nothing at boot: the module files and their parameters are
 * fixed when the image is built (FLOOR_LIST, one "PATH [PARAMS]" line per
 * module, in the order kmod's `modprobe -a -D` gives for the wanted names
 * plus fs-ROOTFSTYPE; tests/boot/images.py writes it). It mounts /proc, /sys
 * and /dev as earlymod's init mode does, calls finit_module() on each file in
 * turn, waits for root= (a /dev/NAME path only), mounts it read-only unless
 * `rw` is on the command line (the kernel's default, and earlymod's), moves
 * /dev, /proc and /sys into it and switches root with MS_MOVE + chroot, then
 * execs /sbin/init.
 *
 * The initramfs files are not deleted before the switch (earlymod and
 * switch_root do that, to free their memory): the benchmark's root powers off
 * at once, and the deletion would only add work that the floor is meant to
 * leave out. No /run either: nothing in the bench's root needs it.
 *
 * It is PID 1: it never exits. On a failure that stops the boot it says why
 * in the kernel log and waits forever.
 *
 * Plain C, no dependency but libc: built with `musl-gcc -static -Os`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_LIST "/etc/floor-modules"
#define ROOT_TIMEOUT_MS 30000
#define ROOT_POLL_MS 20 /* what earlymod's init mode sleeps between looks */

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* linux/module.h, Linux 5.17+ */
#endif

static int kmsg = -1;

/* One line in the kernel log at LEVEL (a printk level, 3 = error,
 * 6 = info); nothing when /dev/kmsg could not be opened. */
static void say(int level, const char* fmt, ...) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "<%d>floor: ", level);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (kmsg >= 0) (void)!write(kmsg, buf, strlen(buf));
}

static _Noreturn void wait_forever(void) {
    say(3, "cannot go on: waiting forever");
    for (;;) pause();
}

static void mount_api(const char* src, const char* target, const char* type, unsigned long flags,
                      const char* data) {
    mkdir(target, 0755);
    /* EBUSY: the kernel or an earlier stage mounted it already. */
    if (mount(src, target, type, flags, data) != 0 && errno != EBUSY)
        say(3, "mount %s on %s: %s", type, target, strerror(errno));
}

static int ends_with(const char* s, const char* suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* finit_module() on every line of FLOOR_LIST, in order. EEXIST (built in,
 * or loaded by the kernel meanwhile) is fine; any other failure is logged
 * and the next module is tried (crc32c_intel gives ENODEV under TCG). */
static void load_modules(void) {
    FILE* f = fopen(FLOOR_LIST, "re");
    if (!f) {
        say(3, "%s: %s", FLOOR_LIST, strerror(errno));
        return;
    }
    char line[4096];
    unsigned loaded = 0, present = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char* params = strchr(line, ' ');
        if (params) *params++ = 0;
        else params = "";
        if (!line[0]) continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            say(3, "%s: %s", line, strerror(errno));
            failed++;
            continue;
        }
        /* A compressed module is the kernel's to decompress (when it can;
         * otherwise the load fails and says so, as nothing else here would). */
        int flags = (ends_with(line, ".ko.xz") || ends_with(line, ".ko.zst") || ends_with(line, ".ko.gz"))
                        ? MODULE_INIT_COMPRESSED_FILE
                        : 0;
        if (syscall(SYS_finit_module, fd, params, flags) == 0) loaded++;
        else if (errno == EEXIST) present++;
        else {
            say(3, "%s: %s", line, strerror(errno));
            failed++;
        }
        close(fd);
    }
    fclose(f);
    say(6, "%u loaded, %u already present, %u failed", loaded, present, failed);
}

/* The value of KEY= in /proc/cmdline copied to OUT (CAP bytes), or whether
 * the bare word KEY is there when OUT is NULL. The last occurrence wins, as
 * for the kernel's own root= parsing. */
static int cmdline_get(const char* cmdline, const char* key, char* out, size_t cap) {
    size_t klen = strlen(key);
    int found = 0;
    const char* p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\n') p++;
        const char* end = p;
        while (*end && *end != ' ' && *end != '\n') end++;
        size_t len = (size_t)(end - p);
        if (!out && len == klen && strncmp(p, key, klen) == 0) found = 1;
        if (out && len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - klen - 1), p + klen + 1);
            found = 1;
        }
        p = end;
    }
    return found;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int main(int argc, char** argv) {
    (void)argc;
    mount_api("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_api("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_api("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

    load_modules();

    char cmdline[4096] = "";
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
        cmdline[n > 0 ? n : 0] = 0;
        close(fd);
    }
    char root[256] = "", fstype[64] = "ext4", rootflags[1024] = "";
    cmdline_get(cmdline, "root", root, sizeof root);
    cmdline_get(cmdline, "rootfstype", fstype, sizeof fstype);
    cmdline_get(cmdline, "rootflags", rootflags, sizeof rootflags);
    unsigned long flags = cmdline_get(cmdline, "rw", NULL, 0) ? 0 : MS_RDONLY;
    if (strncmp(root, "/dev/", 5) != 0) {
        say(3, "root=%s: the floor knows only root=/dev/NAME", root);
        wait_forever();
    }

    /* Poll for the device node (devtmpfs makes it when the driver finds the
     * disk); no uevent listening, no udev. */
    struct stat st;
    long waited = 0;
    while (stat(root, &st) != 0 || !S_ISBLK(st.st_mode)) {
        if (waited >= ROOT_TIMEOUT_MS) {
            say(3, "root device %s did not appear within %d s", root, ROOT_TIMEOUT_MS / 1000);
            wait_forever();
        }
        sleep_ms(ROOT_POLL_MS);
        waited += ROOT_POLL_MS;
    }

    mkdir("/root", 0755);
    if (mount(root, "/root", fstype, flags, rootflags[0] ? rootflags : NULL) != 0) {
        say(3, "mount %s (%s) on /root: %s", root, fstype, strerror(errno));
        wait_forever();
    }
    static const char* const api[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        char target[64];
        snprintf(target, sizeof target, "/root%s", api[i]);
        if (mount(api[i], target, NULL, MS_MOVE, NULL) != 0)
            say(3, "move %s to %s: %s", api[i], target, strerror(errno));
    }
    /* pivot_root(2) does not work on the initramfs rootfs: move the new root
     * onto / and chroot into it. */
    if (chdir("/root") != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 ||
        chdir("/") != 0) {
        say(3, "switch root: %s", strerror(errno));
        wait_forever();
    }
    argv[0] = "/sbin/init";
    execv("/sbin/init", argv);
    say(3, "exec /sbin/init: %s", strerror(errno));
    wait_forever();
}
