// Coldplug: drivers for the hardware that is present, as udev or mdev
// would load them, without anyone listing them.
//
// Every device in /sys/devices that has a modalias (its `modalias` file, or
// MODALIAS= in its `uevent` file) is resolved through the aliases, and what
// matches is loaded; the blacklist applies, since a modalias is an alias.
// Loading a bus driver makes new devices appear (virtio_pci brings the
// virtio devices), so the walk repeats until a pass finds nothing new. The
// kernel's uevent netlink socket is open the whole time, so that devices
// added meanwhile are not missed. A timeout bounds all of it.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "earlymod/boot.h"
#include "earlymod/output.h"
#include "earlymod/text.h"

#include <new>

namespace earlymod {

namespace {

constexpr int max_walk_depth = 40;

// From <linux/netlink.h>, which a musl build does not see.
constexpr int netlink_kobject_uevent = 15;
struct NetlinkAddress {
    sa_family_t nl_family;
    unsigned short nl_pad;
    uint32_t nl_pid;
    uint32_t nl_groups;
};

struct Seen {
    Arena arena;
    StrMap<bool> aliases;
    unsigned devices = 0;         // devices with a modalias, in the fullest scan
    unsigned scanned = 0;
    Vec<std::string_view> fresh;  // aliases not tried yet

    void add(std::string_view alias) {
        while (!alias.empty() && (alias.back() == '\n' || alias.back() == ' ')) alias.remove_suffix(1);
        if (alias.empty()) return;
        ++scanned;
        if (aliases.find(alias)) return;
        std::string_view stored = arena.dup(alias);
        if (stored.empty() || !aliases.insert(stored, true)) return;
        fresh.push(stored);
    }
};

// The MODALIAS= line of a uevent file's text.
std::string_view uevent_modalias(std::string_view text) {
    while (!text.empty()) {
        size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        if (starts_with(line, "MODALIAS=")) return line.substr(9);
        if (eol == std::string_view::npos) break;
        text.remove_prefix(eol + 1);
    }
    return {};
}

void walk(int dirfd, int depth, Seen& seen) {
    if (depth > max_walk_depth) return;
    char buf[4096];
    int fd = openat(dirfd, "modalias", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) seen.add(std::string_view(buf, static_cast<size_t>(n)));
    } else if ((fd = openat(dirfd, "uevent", O_RDONLY | O_CLOEXEC)) >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) seen.add(uevent_modalias(std::string_view(buf, static_cast<size_t>(n))));
    }
    int self = dup(dirfd);
    if (self < 0) return;
    DIR* d = fdopendir(self);
    if (!d) {
        close(self);
        return;
    }
    while (struct dirent* e = readdir(d)) {
        // Real directories only: sysfs links (subsystem, driver, ...) would
        // lead in circles.
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) continue;
        walk(sub, depth + 1, seen);
        close(sub);
    }
    closedir(d);
}

void scan_sysfs(Seen& seen) {
    int fd = open("/sys/devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        log_message(log_err, "coldplug: cannot read /sys/devices: %s", strerror(errno));
        return;
    }
    seen.scanned = 0;
    walk(fd, 0, seen);
    close(fd);
    if (seen.scanned > seen.devices) seen.devices = seen.scanned;
}

int open_uevents() {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, netlink_kobject_uevent);
    if (fd < 0) return -1;
    NetlinkAddress addr;
    memset(&addr, 0, sizeof addr);
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = 1;  // the kernel's own uevents
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Reads the uevents that arrived within wait_ms; true if any came.
bool drain_uevents(int fd, int wait_ms, Seen& seen) {
    if (fd < 0) return false;
    bool any = false;
    char msg[8192];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, any ? 0 : wait_ms) <= 0) break;
        ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
        if (n <= 0) break;
        any = true;
        // "add@/devices/...\0KEY=value\0..."; only additions matter.
        std::string_view all(msg, static_cast<size_t>(n));
        if (!starts_with(all, "add@")) continue;
        size_t at = all.find('\0');
        while (at != std::string_view::npos && at + 1 < all.size()) {
            size_t end = all.find('\0', at + 1);
            std::string_view kv = all.substr(at + 1, end == std::string_view::npos ? all.size() - at - 1 : end - at - 1);
            if (starts_with(kv, "MODALIAS=")) seen.add(kv.substr(9));
            at = end;
        }
    }
    return any;
}

} // namespace

ColdplugResult coldplug(Context& ctx, LoadLog& log, unsigned jobs, unsigned timeout_ms) {
    uint64_t start = monotonic_ns();
    uint64_t deadline = start + static_cast<uint64_t>(timeout_ms) * 1000000ull;
    Seen* seen = new (std::nothrow) Seen;
    ColdplugResult result{};
    if (!seen) return result;
    unsigned loaded_before = log.totals().loaded;
    int events = open_uevents();
    if (events < 0) log_message(log_info, "coldplug: no uevent socket (%s): scanning /sys only", strerror(errno));
    bool timed_out = false;
    for (unsigned pass = 0;; ++pass) {
        scan_sysfs(*seen);
        drain_uevents(events, 0, *seen);
        if (seen->fresh.empty()) {
            // Quiet for a moment? Devices from the last loads may still be
            // on their way.
            if (!drain_uevents(events, 150, *seen) || seen->fresh.empty()) break;
        }
        Vec<std::string_view> batch;
        for (std::string_view a : seen->fresh) batch.push(a);
        seen->fresh.clear();
        result.modaliases += static_cast<unsigned>(batch.size());
        log_message(log_debug, "coldplug pass %u: %zu new modaliases", pass + 1, batch.size());
        Vec<std::string_view> not_found;  // devices without a driver module: normal
        if (jobs > 1) {
            ctx.load_parallel(batch, jobs, not_found);
        } else {
            for (std::string_view a : batch) ctx.load(a, {});
        }
        if (monotonic_ns() >= deadline) {
            timed_out = true;
            break;
        }
    }
    if (events >= 0) close(events);
    result.devices = seen->devices;
    result.loaded = log.totals().loaded - loaded_before;
    result.elapsed_ns = monotonic_ns() - start;
    if (timed_out)
        log_message(log_warning, "coldplug: stopped after %u ms (timeout); devices may be missing", timeout_ms);
    log_message(log_notice, "coldplug: %u devices, %u modules loaded in %s ms", result.devices, result.loaded,
                Millis(result.elapsed_ns, 1).c_str());
    return result;
}

} // namespace earlymod
