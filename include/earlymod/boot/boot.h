// Boot: turning the wanted module list into loaded modules, and init mode.
//
// load_modules() is `earlymod load`'s work and the first step of init
// mode. Its log has one line per module (outcome and time) and a summary,
// following systemd-modules-load's judgement of what is a failure:
//   - a name that resolves to nothing: error, the others continue;
//   - ENODEV or ENOENT from the kernel: a warning, not a failure (a driver
//     for hardware that is not there, such as crc32c-intel without SSE4.2);
//   - EPERM for a module named in module_blacklist=: "blocked by kernel";
//   - already loaded, builtin, or blacklisted in modprobe.d: fine;
//   - anything else: a failure; modules that need it are skipped with
//     that reason, independent ones continue. A module skipped because
//     what it needs failed for a benign reason is not a failure either
//     (systemd judges modprobe's result, the dependency's errno).
// Softdeps that fail are reported and ignored, as kmod ignores them.
// Each module has one outcome per run (load_engine.h), so it counts once
// in the totals, however many wanted names lead to it. Drivers that
// coldplug asks for (Origin::device) are judged mildly: most devices have
// builtin drivers or none in the image.
#pragma once

#include <stdint.h>

#include <string_view>

#include "earlymod/config/kernel_params.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/engine/context.h"
#include "earlymod/engine/load_engine.h"
#include "earlymod/util/memory.h"

namespace earlymod {

struct LoadTotals {
    unsigned loaded = 0;
    unsigned present = 0; // already loaded or builtin
    unsigned failed = 0;
    unsigned benign = 0; // skipped for a benign reason (no device, blocked)
    uint64_t elapsed_ns = 0;
    bool ok() const { return failed == 0; }
};

// Collects what a Context reports about each module, logs it, and counts.
// Give it to the Context's options before opening it (attach()).
class LoadLog {
public:
    explicit LoadLog(const KernelParams* params) : params_(params) {}
    void attach(Options& options);
    // A name that resolved to nothing.
    void not_found(std::string_view name, const Error& why);
    void summary(uint64_t elapsed_ns);
    LoadTotals& totals() { return totals_; }
    // Starts a run: totals at zero, times measured from now.
    void begin();
    void set_origin(uint64_t ns) { origin_ns_ = ns; }
    uint64_t origin() const { return origin_ns_; }
    // The JSON timing report: {"jobs": N, "total_ms": T, "modules": [{"module",
    // "start_ms", "end_ms", "outcome", "worker"}...]}, times in ms since the
    // start of the load.
    Error write_timings(const char* path, unsigned jobs) const;

private:
    static void on_report(void* self, const Report& r);
    void handle(const Report& r);
    bool kernel_blacklisted(std::string_view name) const;
    bool failed_benignly(const Module* m) const;

    struct Timing {
        std::string_view module;
        uint64_t start_ns, end_ns;
        Outcome outcome;
        int worker;
    };
    const KernelParams* params_;
    LoadTotals totals_;
    bool dry_run_ = false;
    uint64_t origin_ns_ = 0;
    Vec<Timing> timings_;
    StrMap<bool> benign_failure_; // failed modules: whether benignly
};

// Submits each wanted name to the engine; a name that resolves to nothing
// is logged (log.not_found).
void submit_wanted(LoadEngine& engine, LoadLog& log, const Vec<std::string_view>& names);

// Loads each name (module or alias) through ctx, with `jobs` workers (a
// LoadEngine from start to end), logs the summary, and returns the totals.
LoadTotals load_modules(Context& ctx, LoadLog& log, const Vec<std::string_view>& names, unsigned jobs = 1);

// The default number of workers: the online CPUs, at most Context::max_jobs.
unsigned default_jobs();

// What `earlymod load` and init mode share: the kernel command line, the
// log level it asks for (earlymod.debug), the wanted list, the log, and
// the workers (earlymod.jobs=, unless the caller gave -j).
struct BootSetup {
    KernelParams params;
    WantedModules wanted;
    Options options;
    LoadLog log{&params};
    unsigned jobs = 1;

    // Reads the command line under root; files: the wanted list comes from
    // these (paths inside root) instead of the command line and
    // modules-load.d. jobs: 0 for earlymod.jobs= or default_jobs(). Returns
    // false when a file could not be read (the rest is still set up).
    bool prepare(const FsRoot& root, const Vec<std::string_view>* files, unsigned long jobs);
};

// Coldplug (see coldplug.cpp): the modules for the devices present.
struct ColdplugResult {
    unsigned devices = 0;    // devices with a modalias
    unsigned modaliases = 0; // distinct modaliases tried
    unsigned loaded = 0;
    uint64_t elapsed_ns = 0;
};

// Where a modalias read from sysfs or from a uevent goes (trailing
// newline trimmed).
struct ModaliasSink {
    void* context;
    void (*fn)(void* context, std::string_view modalias);
    // Asked before each device: false stops the scan (coldplug's deadline).
    // Null: the scan reads everything.
    bool (*more)(void* context) = nullptr;
    void add(std::string_view alias) const;
    bool stop() const { return more && !more(context); }
};
// Every device on every bus and in every class: the modalias of
// /sys/bus/*/devices/* and /sys/class/*/*.
bool scan_bus_devices(const FsRoot& root, const ModaliasSink& sink);
// Every directory under /sys/devices (the slow walk that the bus scan
// replaces; kept to check that both find the same modaliases).
bool scan_all_devices(const FsRoot& root, const ModaliasSink& sink);

// A uevent as the kernel sends it on the netlink socket:
// "ACTION@DEVPATH\0KEY=value\0KEY=value...". Views into the message.
struct Uevent {
    std::string_view action;   // "add", "remove", "bind", ...
    std::string_view devpath;  // "/devices/pci0000:00/..."
    std::string_view modalias; // the first non-empty MODALIAS= value; empty: none
};
// Parses msg: false when it does not have that form (no '@' in the first
// field, an empty action, a devpath not starting with '/'; udev's own
// messages, "libudev\0...", are not uevents of the kernel).
bool parse_uevent(std::string_view msg, Uevent* out);

// Who sent a message on the uevent socket, as recvmsg() tells it.
struct UeventSender {
    bool netlink = false;         // the source address is a netlink one
    uint32_t port = 0;            // its nl_pid: 0 is the kernel
    uint32_t groups = 0;          // its nl_groups: 1 is the kernel's uevent group
    bool has_credentials = false; // SCM_CREDENTIALS came with it (SO_PASSCRED)
    uint32_t uid = 0;
};
// udev's rule: a uevent counts only when the kernel multicast it (netlink
// port 0, group 1) with the credentials of uid 0. A process with
// CAP_NET_ADMIN can send to the socket, unicast or to the group, but not
// from port 0; the credentials are the kernel's word, not the sender's.
bool uevent_from_kernel(const UeventSender& sender);

// Coldplug as a part of a run: init starts it beside the wanted list, on
// the same engine, and keeps reading uevents while it waits for root.
// Sysfs modaliases and uevent modaliases go the same way: each is
// submitted to the engine as an alias, so the blacklist applies to what
// it resolves to (udev's KMOD_PROBE_APPLY_BLACKLIST).
class Coldplug {
public:
    // At most this many distinct modaliases (a QEMU PC has ~40, a large
    // server a few thousand): a flood of fake ones cannot eat memory. Past
    // it, one warning and the rest are ignored.
    static constexpr unsigned max_modaliases = 65536;
    // read_events() reads at most this many messages (from the kernel or
    // dropped) before it returns, so that its caller's loop checks its
    // deadline and handles finished loads between: a flood of messages
    // cannot hold it.
    static constexpr unsigned max_uevents_per_read = 256;

    Coldplug(LoadEngine& engine, const FsRoot& root);
    ~Coldplug();
    // CLOCK_MONOTONIC (monotonic_ns()); 0: none. Past it, the bus scan
    // stops between two devices and read_events() between two messages.
    void set_deadline(uint64_t deadline_ns) { deadline_ns_ = deadline_ns; }
    // Reads uevents from fd (a socket; Coldplug closes it) instead of
    // opening the kernel's: for tests. The sender check still applies.
    void use_socket(int fd);
    // Opens the uevent socket, reads the buses, submits what it finds.
    void start();
    // The uevent socket (-1: none): readable when read_events() has work.
    int fd() const { return socket_; }
    // Submits the modaliases of devices the kernel added; returns how many
    // were new. Never blocks; reads at most max_uevents_per_read messages,
    // and none past the deadline. Messages not from the kernel
    // (uevent_from_kernel) are dropped, said at debug level.
    unsigned read_events();
    // One message from the kernel: the modalias of an added device joins
    // the run, as one read from sysfs does. (read_events() calls it for
    // each message that passed the sender check.)
    void take_uevent(std::string_view msg);
    // Whether coldplug is done: the engine idle and no new device, no
    // uevent left unread (without a socket, the buses are read again after
    // loads).
    bool settle();
    // The figures: devices, modaliases, and the modules loaded for them
    // (not those a wanted name asked for first).
    ColdplugResult finish();

private:
    static void on_modalias(void* self, std::string_view alias);
    static bool before_device(void* self);
    bool past_deadline() const;
    void add(std::string_view alias);
    void rescan();

    LoadEngine& engine_;
    FsRoot root_;
    Arena arena_;
    StrMap<bool> seen_;
    unsigned seen_count_ = 0;
    bool capped_ = false;
    bool noted_deadline_ = false;
    bool backlog_ = false; // read_events() stopped at max_uevents_per_read
    int socket_ = -1;
    uint64_t deadline_ns_ = 0;
    unsigned scanned_ = 0, fresh_ = 0;
    unsigned loaded_at_scan_ = 0;
    uint64_t start_ns_ = 0;
    ColdplugResult result_;
};

// `earlymod coldplug`: a run of its own, for at most timeout_ms.
ColdplugResult coldplug(Context& ctx, LoadLog& log, unsigned jobs, unsigned timeout_ms);
constexpr unsigned default_coldplug_timeout_ms = 10000;

// Init mode: earlymod as the initramfs's /init. Never returns.
[[noreturn]] void run_init(int argc, char** argv);

// How long init waits for the root device, from the command line:
// rootdelay= seconds first, then with rootwait for as long as it takes,
// else at most earlymod.roottimeout= seconds, which also bounds install
// commands. Either number is at most max_wait_s (a larger one is taken as
// that, with a warning: KernelParams::number), so that seconds in
// nanoseconds, or the commands' milliseconds in 32 bits, cannot wrap.
struct RootWait {
    static constexpr unsigned long max_wait_s = 1000000; // about 11.5 days
    static constexpr unsigned long default_timeout_s = 30;
    unsigned long delay_s = 0;
    unsigned long timeout_s = default_timeout_s;
    bool forever = false;            // rootwait
    unsigned command_timeout_ms = 0; // timeout_s in ms
};
RootWait root_wait(const KernelParams& params);

// Where init stops for a shell when asked: rd.break or earlymod.break,
// bare or =pre-mount (also mkinitcpio's premount) before the root is
// mounted; =pre-switch (also dracut's pre-pivot, mkinitcpio's postmount)
// after it is mounted on /root, before the switch. Each key may be given
// more than once. An unknown value is said as a warning and ignored.
struct BreakPoints {
    bool pre_mount = false;
    bool pre_switch = false;
};
BreakPoints break_points(const KernelParams& params);

// The program init starts on the new root, chosen before anything of the
// initramfs is deleted, so that a root with no init leaves the initramfs's
// shell to fall back to: the first usable of init= (when given),
// /sbin/init, /etc/init, /bin/init and /bin/sh.
struct InitChoice {
    char path[512];   // the path to exec once the new root is "/"; "" if none
    char tried[1024]; // those passed over and why: "/sbin/init: missing, ..."
};
// root_fd: the new root's directory, not yet "/". Each path resolves inside
// it (resolve_in_root, files.h), as it will once it is "/". Usable: a regular file
// with an execute bit (root's rule). Returns whether one is usable.
bool pick_init(int root_fd, std::string_view init_param, InitChoice* choice);

} // namespace earlymod
