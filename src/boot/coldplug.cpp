// Coldplug: drivers for the hardware that is present, as udev or mdev
// would load them, without anyone listing them.
//
// The kernel's uevent socket is opened first, so that no device added from
// then on is missed; then every device on every bus and in every class
// (/sys/bus/*/devices/*, /sys/class/*/*: the links to the devices, without
// walking every directory of /sys/devices) is read once: its `modalias` file, or
// MODALIAS= in its `uevent` file. Each new modalias goes to the load engine
// as an alias (the blacklist applies). Loading a bus driver brings new
// devices (virtio_pci brings the virtio devices): the kernel announces
// them on the socket, and their modaliases join the run. No fixed wait:
// when the engine is idle and the socket has nothing, coldplug is done.
// Without a socket (no netlink: a container), the buses are read again
// after each round of loads, until a round finds nothing new.
//
// Only the kernel's uevents count: a message from any other sender (a
// process with CAP_NET_ADMIN can send to the socket or to the group) is
// dropped, as udev drops it (uevent_from_kernel). Each modalias, from
// sysfs or from a uevent, is submitted the same way: as an alias, so that
// the blacklist applies. The distinct modaliases are capped
// (max_modaliases), and the deadline is checked between devices and
// between messages, not only between rounds.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <new>

#include "earlymod/boot/boot.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

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

// The MODALIAS= line of a uevent file's text.
std::string_view uevent_modalias(std::string_view text) {
    std::string_view line;
    while (next_line(text, &line))
        if (starts_with(line, "MODALIAS=")) return line.substr(9);
    return {};
}

// The modalias of the device directory `name` under dirfd, into buf.
std::string_view read_modalias(int dirfd, const char* name, char* buf, size_t cap) {
    char path[512];
    snprintf(path, sizeof path, "%s%smodalias", name, name[0] ? "/" : "");
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, cap - 1);
        close(fd);
        return n > 0 ? std::string_view(buf, static_cast<size_t>(n)) : std::string_view{};
    }
    snprintf(path, sizeof path, "%s%suevent", name, name[0] ? "/" : "");
    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    return n > 0 ? uevent_modalias(std::string_view(buf, static_cast<size_t>(n))) : std::string_view{};
}

void walk(int dirfd, int depth, const ModaliasSink& sink) {
    if (depth > max_walk_depth) return;
    if (sink.stop()) return;
    char buf[4096];
    sink.add(read_modalias(dirfd, "", buf, sizeof buf));
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
        walk(sub, depth + 1, sink);
        close(sub);
    }
    closedir(d);
}

} // namespace

void ModaliasSink::add(std::string_view alias) const {
    while (!alias.empty() && (alias.back() == '\n' || alias.back() == ' ' || alias.back() == '\0'))
        alias.remove_suffix(1);
    if (!alias.empty()) fn(context, alias);
}

namespace {

// Every entry of TOP/*/SUB (SUB may be empty): /sys/bus/*/devices/* or
// /sys/class/*/*; each entry is a link to a device's directory.
bool scan_links(const FsRoot& root, const char* top, const char* sub, const ModaliasSink& sink) {
    char path[4096];
    if (!root.host_path(top, path, sizeof path)) return false;
    int topfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (topfd < 0) return false;
    DIR* groups = fdopendir(topfd);
    if (!groups) {
        close(topfd);
        return false;
    }
    char buf[4096];
    while (struct dirent* g = readdir(groups)) {
        if (g->d_name[0] == '.') continue;
        char dir[300];
        snprintf(dir, sizeof dir, "%s%s%s", g->d_name, sub[0] ? "/" : "", sub);
        int devfd = openat(topfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (devfd < 0) continue;
        DIR* devs = fdopendir(devfd);
        if (!devs) {
            close(devfd);
            continue;
        }
        bool stopped = false;
        while (struct dirent* d = readdir(devs)) {
            if (d->d_name[0] == '.') continue;
            if ((stopped = sink.stop())) break;
            sink.add(read_modalias(devfd, d->d_name, buf, sizeof buf));
        }
        closedir(devs);
        if (stopped) break;
    }
    closedir(groups);
    return true;
}

} // namespace

bool scan_bus_devices(const FsRoot& root, const ModaliasSink& sink) {
    // Bus devices hold most modaliases; a few class devices have one too
    // (input devices, the DMI table in /sys/class/dmi/id).
    bool buses = scan_links(root, "/sys/bus", "devices", sink);
    bool classes = !sink.stop() && scan_links(root, "/sys/class", "", sink);
    return buses || classes;
}

bool scan_all_devices(const FsRoot& root, const ModaliasSink& sink) {
    char path[4096];
    if (!root.host_path("/sys/devices", path, sizeof path)) return false;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    walk(fd, 0, sink);
    close(fd);
    return true;
}

bool parse_uevent(std::string_view msg, Uevent* out) {
    *out = Uevent{};
    size_t end = msg.find('\0');
    std::string_view head = msg.substr(0, end);
    size_t at = head.find('@');
    if (at == std::string_view::npos || at == 0) return false;
    out->action = head.substr(0, at);
    out->devpath = head.substr(at + 1);
    if (out->devpath.empty() || out->devpath[0] != '/') return false;
    while (end != std::string_view::npos) {
        size_t next = msg.find('\0', end + 1);
        std::string_view kv =
            msg.substr(end + 1, next == std::string_view::npos ? msg.size() - end - 1 : next - end - 1);
        if (out->modalias.empty() && starts_with(kv, "MODALIAS=")) out->modalias = kv.substr(9);
        end = next;
    }
    return true;
}

bool uevent_from_kernel(const UeventSender& s) {
    // systemd's device monitor: nl_groups 0 is unicast (never the kernel's
    // uevents), group 1 from a port other than 0 is a process; then the
    // credentials must be root's.
    return s.netlink && s.port == 0 && s.groups == 1 && s.has_credentials && s.uid == 0;
}

Coldplug::Coldplug(LoadEngine& engine, const FsRoot& root) : engine_(engine), root_(root) {}

Coldplug::~Coldplug() {
    if (socket_ >= 0) close(socket_);
}

void Coldplug::on_modalias(void* self, std::string_view alias) {
    static_cast<Coldplug*>(self)->add(alias);
}

bool Coldplug::before_device(void* self) {
    return !static_cast<Coldplug*>(self)->past_deadline();
}

bool Coldplug::past_deadline() const {
    return deadline_ns_ && monotonic_ns() >= deadline_ns_;
}

void Coldplug::use_socket(int fd) {
    if (socket_ >= 0) close(socket_);
    socket_ = fd;
}

void Coldplug::add(std::string_view alias) {
    ++scanned_;
    if (seen_.find(alias)) return;
    if (seen_count_ >= max_modaliases) {
        if (!capped_)
            log_message(log_warning, "coldplug: more than %u distinct modaliases; the rest are ignored",
                        max_modaliases);
        capped_ = true;
        return;
    }
    std::string_view stored = arena_.dup(alias);
    if (stored.empty() || !seen_.insert(stored, true)) return;
    ++seen_count_;
    ++result_.modaliases;
    ++fresh_;
    // A device without a driver module is normal: said with -v only.
    Error why;
    if (!engine_.submit(stored, Origin::device, &why))
        log_message(log_debug, "coldplug: no module for %.*s", SV_ARG(stored));
    // The scan takes a while under emulation: what finished meanwhile is
    // handled now, so that what waits for it starts.
    engine_.pump();
}

void Coldplug::start() {
    start_ns_ = monotonic_ns();
    // Where a sysroot is given (tests), there is no kernel to listen to.
    if (!root_.active() && socket_ < 0) {
        socket_ = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, netlink_kobject_uevent);
        if (socket_ >= 0) {
            NetlinkAddress addr;
            memset(&addr, 0, sizeof addr);
            addr.nl_family = AF_NETLINK;
            addr.nl_groups = 1; // the kernel's own uevents
            // SO_PASSCRED: each message carries its sender's credentials,
            // which the sender cannot choose (uevent_from_kernel).
            int on = 1;
            if (setsockopt(socket_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 ||
                bind(socket_, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) {
                close(socket_);
                socket_ = -1;
            }
        }
        if (socket_ < 0)
            log_message(log_info, "coldplug: no uevent socket (%s): reading the buses after each round",
                        strerror(errno));
    }
    rescan();
}

void Coldplug::rescan() {
    fresh_ = 0;
    scanned_ = 0;
    ModaliasSink sink{this, on_modalias, before_device};
    if (!scan_bus_devices(root_, sink) && !past_deadline())
        log_message(log_err, "coldplug: cannot read /sys/bus: %s", strerror(errno));
    if (past_deadline() && !noted_deadline_) {
        noted_deadline_ = true;
        log_message(log_warning, "coldplug: deadline passed during the bus scan; the rest of the devices are skipped");
    }
    if (scanned_ > result_.devices) result_.devices = scanned_;
    log_message(log_debug, "coldplug: %u devices with a modalias, %u new modaliases", scanned_, fresh_);
}

unsigned Coldplug::read_events() {
    if (socket_ < 0) return 0;
    fresh_ = 0;
    backlog_ = false;
    char msg[8192];
    for (unsigned n_read = 0; !past_deadline(); ++n_read) {
        if (n_read == max_uevents_per_read) {
            backlog_ = true; // more may wait: not settled yet
            break;
        }
        NetlinkAddress from;
        memset(&from, 0, sizeof from);
        struct iovec iov = {msg, sizeof msg};
        alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))];
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_name = &from;
        mh.msg_namelen = sizeof from;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control;
        mh.msg_controllen = sizeof control;
        ssize_t n = recvmsg(socket_, &mh, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        UeventSender sender;
        sender.netlink = mh.msg_namelen >= sizeof from && from.nl_family == AF_NETLINK;
        sender.port = from.nl_pid;
        sender.groups = from.nl_groups;
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                sender.has_credentials = true;
                sender.uid = cred.uid;
            }
        }
        // A cut message could end inside a MODALIAS= value.
        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !uevent_from_kernel(sender)) {
            log_message(log_debug, "coldplug: uevent dropped (port %u, group %u, %s%u%s): only the kernel's count",
                        sender.port, sender.groups, sender.has_credentials ? "uid " : "no credentials ", sender.uid,
                        (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? ", truncated" : "");
            continue;
        }
        take_uevent(std::string_view(msg, static_cast<size_t>(n)));
    }
    return fresh_;
}

void Coldplug::take_uevent(std::string_view msg) {
    // Only additions matter: udev's rules load drivers on "add".
    Uevent u;
    if (!parse_uevent(msg, &u) || u.action != "add") return;
    ModaliasSink sink{this, on_modalias};
    sink.add(u.modalias);
}

bool Coldplug::settle() {
    if (!engine_.idle()) return false;
    if (socket_ >= 0) return read_events() == 0 && !backlog_ && engine_.idle();
    // No socket: what the last round loaded may have brought devices.
    if (engine_.loaded() == loaded_at_scan_) return true;
    loaded_at_scan_ = engine_.loaded();
    rescan();
    return fresh_ == 0 && engine_.idle();
}

ColdplugResult Coldplug::finish() {
    result_.loaded = engine_.loaded(Origin::device);
    result_.elapsed_ns = monotonic_ns() - start_ns_;
    return result_;
}

ColdplugResult coldplug(Context& ctx, LoadLog& log, unsigned jobs, unsigned timeout_ms) {
    log.begin(); // a run of its own: totals and times from now
    uint64_t deadline = monotonic_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
    LoadEngine* engine = new (std::nothrow) LoadEngine(ctx);
    Coldplug* cp = engine ? new (std::nothrow) Coldplug(*engine, FsRoot(ctx.options().sysroot)) : nullptr;
    if (!cp) {
        delete engine;
        log_message(log_err, "coldplug: out of memory");
        return {};
    }
    engine->start(jobs);
    cp->set_deadline(deadline);
    cp->start();
    bool timed_out = false;
    for (;;) {
        // Loads and uevents, whichever comes first.
        struct pollfd p[2] = {{engine->fd(), POLLIN, 0}, {cp->fd(), POLLIN, 0}};
        engine->pump();
        if (cp->fd() >= 0) cp->read_events();
        if (cp->settle()) break;
        uint64_t now = monotonic_ns();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        uint64_t left_ms = (deadline - now) / 1000000 + 1;
        poll(p, 2, left_ms > 1000 ? 1000 : static_cast<int>(left_ms));
    }
    ColdplugResult result = cp->finish();
    if (timed_out)
        log_message(log_warning, "coldplug: stopped after %u ms (timeout); devices may be missing", timeout_ms);
    log_message(log_notice, "coldplug: %u devices, %u modules loaded in %s ms", result.devices, result.loaded,
                Millis(result.elapsed_ns, 1).c_str());
    delete cp;
    delete engine; // waits for what still runs (a kernel call cannot be taken back)
    return result;
}

} // namespace earlymod
