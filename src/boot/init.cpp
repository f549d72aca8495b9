// Init mode: earlymod as the initramfs's /init (PID 1), or `earlymod init`.
//
//   1. mount /proc, /sys, /dev (devtmpfs) and /run (tmpfs) where missing;
//   2. start one load run (load_engine.h) with earlymod.jobs= workers
//      (default: the online CPUs): the wanted modules (as `earlymod load`),
//      the root filesystem's module (fs-TYPE for rootfstype=, as the
//      kernel's request_module asks for it), and coldplug's drivers for the
//      devices present (earlymod.coldplug=0 turns that off), all at once;
//   3. with resume= (and no noresume): wait for that device, let the run
//      end, and tell the kernel where the hibernation image may be
//      (resume.h); with one there, the kernel restores it and this boot
//      ends;
//   4. meanwhile wait for root= (rootdelay= first; rootwait waits for
//      ever; else at most earlymod.roottimeout= seconds, 30 by default,
//      which also bounds install commands: root_wait(), boot.h);
//      without rootfstype=, load the module of the filesystem the device
//      holds;
//   5. wait for the run to end (what loads cannot be stopped halfway);
//      rd.break: a shell here (shell.h);
//   6. for btrfs, register every btrfs device (a root on several disks);
//      mount the root on /root with rootfstype=, rootflags= and ro/rw;
//      rd.break=pre-switch: a shell here;
//   7. find the init to start in it (pick_init: init=, else /sbin/init,
//      /etc/init, /bin/init, /bin/sh, resolved inside the new root); with
//      none, unmount it and fail while the initramfs is still whole;
//   8. move /dev, /proc, /sys and /run into it, delete the initramfs's
//      files (their memory is freed), and switch root: MS_MOVE onto "/"
//      and chroot (pivot_root does not work on the initramfs rootfs);
//   9. exec that init.
// A failure is said on the console and in the kernel log; then the
// image's /bin/sh runs as a child, started again whenever it exits;
// without one earlymod waits without spinning. PID 1 must never exit:
// that panics the kernel.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "earlymod/boot/boot.h"
#include "earlymod/boot/resume.h"
#include "earlymod/boot/root_device.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/engine/command.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"
#include "shell.h"

extern char** environ;

namespace earlymod {

namespace {

constexpr unsigned long ramfs_magic = 0x858458f6;
constexpr unsigned long tmpfs_magic = 0x01021994;

// Seconds from the command line as nanoseconds, saturated: a huge value
// means "very long", never a short wrapped one.
uint64_t saturating_seconds_ns(unsigned long s) {
    constexpr uint64_t max_s = UINT64_MAX / 1000000000ull;
    return s >= max_s ? UINT64_MAX : s * 1000000000ull;
}

void mount_if_missing(const char* source, const char* target, const char* type, unsigned long flags, const char* data) {
    mkdir(target, 0755);
    if (mount(source, target, type, flags, data) == 0 || errno == EBUSY) return;
    say(log_err, "could not mount %s on %s: %s", type, target, strerror(errno));
}

// PID 1 may start with no open descriptors (no /dev/console in the image):
// give it the console once devtmpfs is there.
void open_console() {
    if (fcntl(0, F_GETFD) >= 0 && fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0) return;
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) return;
    for (int k = 0; k < 3; ++k)
        if (fcntl(k, F_GETFD) < 0) dup2(fd, k);
    if (fd > 2) close(fd);
}

// Deletes the initramfs's files (everything on the root filesystem's own
// device, not descending into other mounts), so that their memory is freed.
void delete_tree(int dirfd, dev_t rootdev) {
    DIR* d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return;
    }
    while (struct dirent* e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != rootdev) continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) delete_tree(sub, rootdev);
            unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd, e->d_name, 0);
        }
    }
    closedir(d);
}

bool mount_root(const char* device, const KernelParams& params, const Vec<std::string_view>& types) {
    unsigned long flags = params.has("rw") ? 0 : MS_RDONLY; // the kernel's default is read-only
    std::string_view rootflags;
    params.get("rootflags", &rootflags);
    char data[1024];
    snprintf(data, sizeof data, "%.*s", SV_ARG(rootflags));
    mkdir("/root", 0755);
    int last = 0;
    for (std::string_view t : types) {
        char type[64];
        snprintf(type, sizeof type, "%.*s", SV_ARG(t));
        if (mount(device, "/root", type, flags, data[0] ? data : nullptr) == 0) {
            log_message(log_notice, "mounted %s (%s, %s) on /root", device, type, flags ? "ro" : "rw");
            return true;
        }
        last = errno;
    }
    say(log_err, "could not mount root %s: %s", device, last ? strerror(last) : "no filesystem type to try");
    return false;
}

// The filesystem types to try: rootfstype= (a comma list), or every type
// the kernel knows that needs a device.
void root_types(const KernelParams& params, Vec<std::string_view>& types, Arena& arena) {
    std::string_view v;
    if (params.get("rootfstype", &v)) {
        std::string_view rest = v;
        for (;;) {
            std::string_view t = next_token(rest, ",");
            if (t.empty()) break;
            types.push(t);
        }
        return;
    }
    std::string_view text;
    if (!read_whole_file("/proc/filesystems", "/proc/filesystems", arena, &text).ok()) return;
    std::string_view line;
    while (next_line(text, &line)) {
        if (starts_with(line, "nodev")) continue;
        while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
        if (!line.empty()) types.push(line);
    }
}

bool switch_root() {
    // Keep the API filesystems: move them under the new root.
    for (const char* m : {"/dev", "/proc", "/sys", "/run"}) {
        char target[64];
        snprintf(target, sizeof target, "/root%s", m);
        struct stat st;
        if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (mount(m, target, nullptr, MS_MOVE, nullptr) != 0)
                say(log_err, "could not move %s to %s: %s", m, target, strerror(errno));
        } else {
            umount2(m, MNT_DETACH);
        }
    }
    if (chdir("/root") != 0) {
        say(log_err, "chdir /root: %s", strerror(errno));
        return false;
    }
    // Only on the initramfs (ramfs/tmpfs) do we delete what is on "/".
    struct statfs fs;
    struct stat root_st;
    if (statfs("/", &fs) == 0 && (fs.f_type == ramfs_magic || fs.f_type == tmpfs_magic) && stat("/", &root_st) == 0) {
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) delete_tree(fd, root_st.st_dev);
    }
    if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) {
        say(log_err, "could not move the root onto /: %s", strerror(errno));
        return false;
    }
    if (chroot(".") != 0 || chdir("/") != 0) {
        say(log_err, "chroot: %s", strerror(errno));
        return false;
    }
    return true;
}

void exec_init(const KernelParams& params, char** argv) {
    std::string_view v;
    char first[512] = "";
    if (params.get("init", &v)) snprintf(first, sizeof first, "%.*s", SV_ARG(v));
    // pick_init found a usable one in this order; if its execve fails
    // after all (a missing interpreter), the next ones are tried.
    const char* candidates[] = {first, "/sbin/init", "/etc/init", "/bin/init", "/bin/sh"};
    for (const char* c : candidates) {
        if (!c[0] || access(c, X_OK) != 0) continue;
        log_message(log_notice, "starting %s", c);
        argv[0] = const_cast<char*>(c);
        execve(c, argv, environ);
        say(log_err, "could not start %s: %s", c, strerror(errno));
    }
    say(log_err, "no init found on the root filesystem (tried init=, /sbin/init, /etc/init, /bin/init, /bin/sh)");
}

// The load run and the wait for the root device, side by side: loads end,
// uevents arrive (coldplug), and the device node appears, in any order.
class BootRun {
public:
    BootRun(LoadEngine& engine, Coldplug* coldplug) : engine_(engine), coldplug_(coldplug) {}

    // Handles what happened, then sleeps until something may have: a load
    // ended, a uevent came (the root device's own among them), or ms.
    void step(unsigned ms) {
        // PID 1 inherits orphans (of install commands, say): reaped here,
        // through the one reaper that leaves running commands' status alone.
        reap_orphans();
        engine_.pump();
        if (coldplug_) coldplug_->read_events();
        struct pollfd p[2] = {{engine_.fd(), POLLIN, 0}, {coldplug_ ? coldplug_->fd() : -1, POLLIN, 0}};
        poll(p, 2, static_cast<int>(ms));
        engine_.pump();
        if (coldplug_) coldplug_->read_events();
    }
    bool done() { return coldplug_ ? coldplug_->settle() : engine_.idle(); }

private:
    LoadEngine& engine_;
    Coldplug* coldplug_;
};

// Waits for the device spec names (root= or resume=: what says which),
// loads going on meanwhile: wait.delay_s first, then at most
// wait.timeout_s, or for ever with wait.forever.
bool wait_for_device(BootRun& run, const char* what, const RootSpec& spec, std::string_view shown, const RootWait& wait,
                     char* device, size_t cap) {
    unsigned long timeout = wait.timeout_s;
    uint64_t start = monotonic_ns();
    if (wait.delay_s > 0) {
        log_message(log_notice, "rootdelay: waiting %lu s", wait.delay_s);
        uint64_t until = start + saturating_seconds_ns(wait.delay_s);
        while (monotonic_ns() < until) run.step(50);
        start = monotonic_ns();
    }
    bool forever = wait.forever;
    uint64_t next_note = start + 2000000000ull;
    int sh = static_cast<int>(shown.size());
    for (;;) {
        if (find_root_device(spec, device, cap)) return true;
        uint64_t now = monotonic_ns();
        if (!forever && now - start >= saturating_seconds_ns(timeout)) {
            say(log_err, "%s device %.*s did not appear within %lu s", what, sh, shown.data(), timeout);
            return false;
        }
        if (now >= next_note) {
            log_message(log_notice, "waiting for %s device %.*s%s", what, sh, shown.data(),
                        forever ? " (rootwait: for as long as it takes)" : "");
            next_note = now + 10000000000ull;
        }
        run.step(20);
    }
}

// resume=: once the swap device is there and every load has ended (a
// load in flight would hold the kernel's freeze of tasks), tell the
// kernel where the hibernation image is. With one there, the kernel
// restores it and this never returns. Anything wrong is said and boot
// goes on: a machine that cannot resume still boots.
void resume_if_asked(BootRun& run, const KernelParams& params, const RootWait& root) {
    ResumeRequest req;
    char why[256];
    ResumeAsk ask = resume_request(params, root.timeout_s, &req, why, sizeof why);
    if (ask == ResumeAsk::none) {
        if (params.has("noresume") && params.has("resume"))
            log_message(log_notice, "resume: noresume given, not looking for a hibernation image");
        return;
    }
    if (ask == ResumeAsk::invalid) {
        say(log_err, "%s: not resuming", why);
        return;
    }
    RootWait wait;
    wait.timeout_s = req.timeout_s;
    char device[512];
    if (!wait_for_device(run, "resume", req.device, req.shown, wait, device, sizeof device)) {
        say(log_err, "resume: booting without resuming");
        return;
    }
    while (!run.done()) run.step(1000);
    struct stat st;
    if (stat(device, &st) != 0 || !S_ISBLK(st.st_mode)) {
        say(log_err, "resume: %s is not a block device: booting without resuming", device);
        return;
    }
    log_message(log_notice, "resume: looking for a hibernation image on %s (%u:%u%s)", device, major(st.st_rdev),
                minor(st.st_rdev), req.has_offset ? ", with resume_offset" : "");
    Error e = write_resume("/sys/power", st.st_rdev, req);
    if (!e.ok()) {
        say(log_err, "resume: %s: booting without resuming", e.message());
        return;
    }
    log_message(log_notice, "resume: no hibernation image on %s: booting", device);
}

// A btrfs root may span several devices: each must be known to the
// kernel before the mount (register_btrfs_devices, root_device.h).
void register_btrfs_members() {
    BtrfsScan r = register_btrfs_devices("/dev/btrfs-control");
    if (r.control_errno) {
        say(log_err, "btrfs: /dev/btrfs-control: %s: a root on several devices will not mount",
            strerror(r.control_errno));
        return;
    }
    log_message(log_notice, "btrfs: registered %u device%s", r.registered, r.registered == 1 ? "" : "s");
    if (r.failed)
        say(log_err, "btrfs: %u device%s refused, first %s", r.failed, r.failed == 1 ? "" : "s", r.first_failure);
}

} // namespace

bool pick_init(int root_fd, std::string_view init_param, InitChoice* choice) {
    choice->path[0] = '\0';
    choice->tried[0] = '\0';
    size_t used = 0;
    const std::string_view candidates[] = {init_param, "/sbin/init", "/etc/init", "/bin/init", "/bin/sh"};
    for (std::string_view c : candidates) {
        if (c.empty()) continue;
        char resolved[PATH_MAX];
        struct stat st;
        const char* why = nullptr;
        if (c.size() >= sizeof choice->path) {
            why = "path too long";
        } else if (!resolve_in_root(root_fd, c, resolved, sizeof resolved)) {
            why = errno == ENOENT ? "missing" : strerror(errno);
        } else if ((resolved[0] ? fstatat(root_fd, resolved, &st, AT_SYMLINK_NOFOLLOW) : fstat(root_fd, &st)) != 0) {
            why = strerror(errno);
        } else if (!S_ISREG(st.st_mode)) {
            why = "not a file";
        } else if (!(st.st_mode & 0111)) {
            why = "not executable";
        }
        if (!why) {
            memcpy(choice->path, c.data(), c.size());
            choice->path[c.size()] = '\0';
            return true;
        }
        if (used < sizeof choice->tried) {
            int n = snprintf(choice->tried + used, sizeof choice->tried - used, "%s%.*s: %s", used ? ", " : "",
                             SV_ARG(c), why);
            if (n > 0) used += static_cast<size_t>(n);
        }
    }
    return false;
}

RootWait root_wait(const KernelParams& params) {
    RootWait w;
    w.delay_s = params.number("rootdelay", 0, RootWait::max_wait_s);
    w.timeout_s = params.number("earlymod.roottimeout", RootWait::default_timeout_s, RootWait::max_wait_s);
    w.forever = params.has("rootwait");
    static_assert(RootWait::max_wait_s * 1000 <= UINT32_MAX, "the commands' timeout is 32-bit milliseconds");
    w.command_timeout_ms = static_cast<unsigned>(w.timeout_s * 1000);
    return w;
}

[[noreturn]] void run_init(int argc, char** argv) {
    (void)argc;
    uint64_t t0 = monotonic_ns();
    mount_if_missing("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    mount_if_missing("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    mount_if_missing("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mount_if_missing("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    open_console();
    Logger& lg = logger();
    lg.program = "earlymod"; // not "init": the log says who speaks
    lg.to_kmsg = true;
    lg.verbosity = log_notice;
    lg.console_level = log_warning; // a load that hangs is seen on the console

    FsRoot root;
    auto* boot = new (std::nothrow) BootSetup;
    auto* ctx = new (std::nothrow) Context;
    auto* arena = new (std::nothrow) Arena;
    if (!boot || !ctx || !arena) {
        say(log_err, "out of memory");
        emergency();
    }
    boot->prepare(root, nullptr, 0);
    const KernelParams& params = boot->params;
    LoadLog& log = boot->log;
    // An install command may not hold the boot longer than the root may.
    RootWait wait = root_wait(params);
    boot->options.command_timeout_ms = wait.command_timeout_ms;
    Error err = ctx->open(boot->options);
    if (!err.ok()) say(log_err, "%s", err.message());
    auto* engine = new (std::nothrow) LoadEngine(*ctx);
    if (!engine) {
        say(log_err, "out of memory");
        emergency();
    }
    engine->start(boot->jobs);
    log.begin();

    // One run: the wanted list, the root's filesystem, the devices.
    Vec<std::string_view> types;
    root_types(params, types, *arena);
    std::string_view rootfstype;
    bool have_rootfstype = params.get("rootfstype", &rootfstype);
    Coldplug* cp = nullptr;
    if (err.ok()) {
        submit_wanted(*engine, log, boot->wanted.names());
        if (have_rootfstype) {
            for (std::string_view t : types) {
                if (!engine->submit(arena->concat("fs-", t), Origin::root_fs))
                    log_message(log_info, "no module for filesystem %.*s (built in, or missing)", SV_ARG(t));
            }
        }
        if (params.flag("earlymod.coldplug", true)) {
            cp = new (std::nothrow) Coldplug(*engine, root);
            if (cp) cp->start();
        }
    }
    BootRun run(*engine, cp);
    BreakPoints breaks = break_points(params);
    // Before the root is even looked at: nothing may be mounted from the
    // disks until the kernel knows whether a hibernated system waits.
    resume_if_asked(run, params, wait);

    std::string_view root_arg;
    RootSpec spec;
    char device[512];
    if (!params.get("root", &root_arg) || root_arg.empty()) {
        say(log_err, "no root= on the kernel command line");
        emergency();
    }
    if (!parse_root_spec(root_arg, &spec)) {
        say(log_err, "root=%.*s: not a form earlymod understands (/dev/NAME, UUID=, LABEL=, PARTUUID=, MAJ:MIN)",
            SV_ARG(root_arg));
        emergency();
    }
    if (!wait_for_device(run, "root", spec, root_arg, wait, device, sizeof device)) emergency();
    if (!have_rootfstype) {
        // No rootfstype=: ask the device, and load that filesystem's module.
        FsIdentity id;
        if (read_fs_identity(device, &id) && id.type[0]) {
            std::string_view t = arena->dup(id.type);
            if (err.ok()) engine->submit(arena->concat("fs-", t), Origin::root_fs);
            types.clear();
            types.push(t);
        }
    }
    // Everything asked for has its outcome (and coldplug found no new
    // device) before the root is mounted and the initramfs goes away.
    while (!run.done()) run.step(1000);
    log.summary(monotonic_ns() - log.origin());
    if (cp) {
        ColdplugResult r = cp->finish();
        log_message(log_notice, "coldplug: %u devices, %u modules loaded in %s ms", r.devices, r.loaded,
                    Millis(r.elapsed_ns, 1).c_str());
    }
    if (breaks.pre_mount) break_shell("before mounting the root (rd.break)");
    for (std::string_view t : types) {
        if (t != "btrfs") continue;
        register_btrfs_members();
        break;
    }
    if (!mount_root(device, params, types)) emergency();
    // Before the init is looked for: a root that cannot boot can be
    // mended from this shell.
    if (breaks.pre_switch) break_shell("with the root mounted on /root, before the switch (rd.break=pre-switch)");
    // Whether the new root can boot is known before the initramfs is
    // deleted: if it cannot, the initramfs (its shell) is still there.
    std::string_view init_param;
    params.get("init", &init_param);
    InitChoice choice;
    int root_fd = open("/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    bool usable = root_fd >= 0 && pick_init(root_fd, init_param, &choice);
    if (root_fd >= 0) close(root_fd);
    if (!usable) {
        say(log_err, "no usable init on the root filesystem (%s): leaving it, keeping the initramfs",
            root_fd >= 0 ? choice.tried : strerror(errno));
        if (umount2("/root", 0) != 0 && umount2("/root", MNT_DETACH) != 0)
            say(log_err, "could not unmount /root: %s", strerror(errno));
        emergency();
    }
    if (!init_param.empty() && init_param != choice.path)
        say(log_warning, "init=%.*s cannot start (%s): starting %s instead", SV_ARG(init_param), choice.tried,
            choice.path);
    // The timing report, for the booted system to read (/run moves along).
    mkdir("/run/earlymod", 0755);
    Error te = log.write_timings("/run/earlymod/timings.json", boot->jobs);
    if (!te.ok()) log_message(log_warning, "%s", te.message());
    log_message(log_notice, "initramfs done in %s ms", Millis(monotonic_ns() - t0, 1).c_str());
    delete cp;
    delete engine;
    if (!switch_root()) emergency();
    exec_init(params, argv);
    emergency();
}

} // namespace earlymod
