// Coldplug (boot.h, src/boot/coldplug.cpp) and the uevents it reads: the
// message parser, the check that a message comes from the kernel, the
// blacklist on uevent modaliases, the cap on distinct modaliases, and the
// deadline inside a pass (bounded by counts: messages read, devices seen).
//
// No kernel socket here: the tests give Coldplug a socketpair
// (use_socket), whose messages are never the kernel's, or hand it
// messages as read_events() does after the sender check (take_uevent).
#include <doctest/doctest.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "earlymod/boot/boot.h"
#include "earlymod/engine/load_engine.h"
#include "earlymod/util/output.h"
#include "fake_kernel.h"
#include "tree.h"

using namespace earlymod;
using fixture::FakeKernel;

namespace {

std::string_view sv(const std::string& s) {
    return {s.data(), s.size()};
}

// A uevent as the kernel writes it: header and KEY=value fields, each
// ended by a NUL.
std::string uevent(const std::string& action, const std::string& devpath, const std::string& modalias) {
    std::string m = action + "@" + devpath + '\0';
    m += "ACTION=" + action + '\0';
    m += "DEVPATH=" + devpath + '\0';
    m += "SUBSYSTEM=pci";
    m += '\0';
    if (!modalias.empty()) m += "MODALIAS=" + modalias + '\0';
    m += "SEQNUM=1234";
    m += '\0';
    return m;
}

// The fixture module tree (its modprobe.d blacklists snd_pcsp, which the
// alias pcspkr also names), a fake kernel, and a sysfs under the same root.
struct Plug {
    fixture::TempDir root;
    FakeKernel kernel;
    Options opt;
    Context ctx;
    int saved_verbosity;
    Plug() {
        fixture::write_module_tree(root, false);
        root.mkdir("sys/bus");
        root.mkdir("sys/class");
        opt.sysroot = root.path();
        opt.kernel_release = "1.0";
        opt.cmdline = nullptr;
        opt.kernel = &kernel;
        saved_verbosity = logger().verbosity;
        logger().verbosity = log_crit;
    }
    ~Plug() { logger().verbosity = saved_verbosity; }
    void open() { REQUIRE(ctx.open(opt).ok()); }
    void device(const std::string& bus, const std::string& name, const std::string& modalias) {
        root.write("sys/bus/" + bus + "/devices/" + name + "/modalias", modalias + "\n");
    }
};

} // namespace

TEST_CASE("coldplug: parse_uevent takes the action, devpath and MODALIAS of a kernel uevent") {
    Uevent u;
    std::string m =
        uevent("add", "/devices/pci0000:00/0000:00:03.0", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00");
    REQUIRE(parse_uevent(sv(m), &u));
    CHECK(u.action == "add");
    CHECK(u.devpath == "/devices/pci0000:00/0000:00:03.0");
    CHECK(u.modalias == "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00");

    // No MODALIAS: a uevent all the same.
    m = uevent("remove", "/devices/virtual/block/loop0", "");
    REQUIRE(parse_uevent(sv(m), &u));
    CHECK(u.action == "remove");
    CHECK(u.modalias.empty());

    // The last field without its NUL, and a header alone.
    m = std::string("add@/devices/x") + '\0' + "MODALIAS=acpi:PNP0A03:";
    REQUIRE(parse_uevent(sv(m), &u));
    CHECK(u.modalias == "acpi:PNP0A03:");
    REQUIRE(parse_uevent("change@/devices/y", &u));
    CHECK(u.devpath == "/devices/y");

    // The first MODALIAS= counts; a key that only ends in MODALIAS does not.
    m = std::string("add@/devices/z") + '\0' + "XMODALIAS=no" + '\0' + "MODALIAS=first" + '\0' + "MODALIAS=second";
    REQUIRE(parse_uevent(sv(m), &u));
    CHECK(u.modalias == "first");

    // Not uevents of the kernel: udev's own messages, no '@', no action,
    // a devpath that is not one, nothing at all.
    m = std::string("libudev") + '\0' + "\xfe\xed\xca\xfe" + "MODALIAS=evil";
    CHECK_FALSE(parse_uevent(sv(m), &u));
    CHECK(u.modalias.empty());
    CHECK_FALSE(parse_uevent("add", &u));
    CHECK_FALSE(parse_uevent(std::string_view("@/devices/x\0MODALIAS=evil", 25), &u));
    CHECK_FALSE(parse_uevent(std::string_view("add@devices\0MODALIAS=evil", 25), &u));
    CHECK_FALSE(parse_uevent(std::string_view("add@\0MODALIAS=evil", 18), &u));
    CHECK_FALSE(parse_uevent("", &u));
    // A MODALIAS in the header is not a field.
    CHECK_FALSE(parse_uevent("MODALIAS=evil", &u));
}

TEST_CASE("coldplug: only uevents multicast by the kernel (port 0, group 1, uid 0) count") {
    UeventSender kernel;
    kernel.netlink = true;
    kernel.port = 0;
    kernel.groups = 1;
    kernel.has_credentials = true;
    kernel.uid = 0;
    CHECK(uevent_from_kernel(kernel));

    UeventSender s = kernel;
    s.port = 4242; // a process's socket, sending to the group
    CHECK_FALSE(uevent_from_kernel(s));
    s = kernel;
    s.groups = 0; // unicast to our socket
    CHECK_FALSE(uevent_from_kernel(s));
    s = kernel;
    s.groups = 2; // udev's group, not the kernel's
    CHECK_FALSE(uevent_from_kernel(s));
    s = kernel;
    s.uid = 65534; // CAP_NET_ADMIN without being root
    CHECK_FALSE(uevent_from_kernel(s));
    s = kernel;
    s.has_credentials = false;
    CHECK_FALSE(uevent_from_kernel(s));
    s = kernel;
    s.netlink = false; // not a netlink address at all
    CHECK_FALSE(uevent_from_kernel(s));
}

TEST_CASE("coldplug: uevents from a socket that is not the kernel's are dropped, at most max_uevents_per_read a call") {
    Plug p;
    p.open();
    LoadEngine engine(p.ctx);
    engine.start(1);
    Coldplug cp(engine, FsRoot(p.opt.sysroot));
    int sv_fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv_fds) == 0);
    int on = 1;
    REQUIRE(setsockopt(sv_fds[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
    cp.use_socket(sv_fds[0]);
    cp.start();

    // Well-formed additions of a driver that exists (e1000e), from a
    // process: none may be submitted, and a flood must not hold the call.
    const unsigned sent = Coldplug::max_uevents_per_read * 3 + 7;
    REQUIRE(fcntl(sv_fds[1], F_SETFL, O_NONBLOCK) == 0);
    unsigned n_sent = 0;
    for (unsigned i = 0; i < sent; ++i) {
        std::string m = uevent("add", "/devices/pci0000:00/0000:00:" + std::to_string(i),
                               "pci:v00008086d0000" + std::to_string(1000 + i) + "sv*");
        if (send(sv_fds[1], m.data(), m.size(), 0) < 0) break;
        ++n_sent;
    }
    REQUIRE(n_sent > Coldplug::max_uevents_per_read);

    // settle() reads max_uevents_per_read of them, and is not settled while
    // more wait unread (they could be the kernel's news of a device).
    CHECK_FALSE(cp.settle());
    // The rest are still queued.
    unsigned left = 0;
    char buf[8192];
    while (recv(sv_fds[0], buf, sizeof buf, MSG_DONTWAIT) > 0) ++left;
    CHECK(left == n_sent - Coldplug::max_uevents_per_read);
    CHECK(cp.settle());
    CHECK(cp.read_events() == 0);
    engine.wait(0);
    CHECK(p.kernel.calls("e1000e") == 0);
    CHECK(cp.finish().modaliases == 0);
    close(sv_fds[1]);
}

TEST_CASE("coldplug: past the deadline read_events reads no message and the bus scan stops") {
    Plug p;
    const unsigned n_devices = 40;
    for (unsigned i = 0; i < n_devices; ++i)
        p.device("pci", "0000:00:" + std::to_string(i), "pci:nothing" + std::to_string(i));
    p.open();
    LoadEngine engine(p.ctx);
    engine.start(1);

    // Without a deadline every device is seen (the control).
    {
        Coldplug cp(engine, FsRoot(p.opt.sysroot));
        cp.start();
        CHECK(cp.finish().devices == n_devices);
    }

    Coldplug cp(engine, FsRoot(p.opt.sysroot));
    int sv_fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv_fds) == 0);
    cp.use_socket(sv_fds[0]);
    cp.set_deadline(1); // CLOCK_MONOTONIC 1 ns: long past
    cp.start();
    // The scan stopped before the first device, not after a whole pass.
    CHECK(cp.finish().devices == 0);
    CHECK(cp.finish().modaliases == 0);

    for (unsigned i = 0; i < 10; ++i) {
        std::string m = uevent("add", "/devices/x" + std::to_string(i), "x");
        REQUIRE(send(sv_fds[1], m.data(), m.size(), 0) > 0);
    }
    cp.read_events();
    unsigned left = 0;
    char buf[8192];
    while (recv(sv_fds[0], buf, sizeof buf, MSG_DONTWAIT) > 0) ++left;
    CHECK(left == 10);
    close(sv_fds[1]);
}

TEST_CASE("coldplug: the blacklist applies to uevent modaliases as to sysfs ones") {
    Plug p;
    // Sysfs: a device whose modalias names a blacklisted module, one whose
    // modalias is an alias of it, and one for e1000e.
    p.device("platform", "pcspkr", "pcspkr");
    p.device("pci", "0000:00:03.0", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00");
    p.open();
    LoadEngine engine(p.ctx);
    engine.start(2);
    Coldplug cp(engine, FsRoot(p.opt.sysroot));
    cp.start();
    // From the kernel, as read_events() hands them on: the module's own
    // name (kmod and udev pass MODALIAS to modprobe as an alias, and the
    // blacklist applies to every alias), an alias of it (also found in
    // sysfs: counted once), and a driver that is not blacklisted.
    cp.take_uevent(sv(uevent("add", "/devices/platform/evil", "snd_pcsp")));
    cp.take_uevent(sv(uevent("add", "/devices/platform/pcspkr2", "pcspkr")));
    cp.take_uevent(sv(uevent("add", "/devices/pci0000:00/0000:00:1f.2", "pci:v00008086d00002922sv*sd*bc01sc06i01")));
    // Not an addition: ignored.
    cp.take_uevent(sv(uevent("remove", "/devices/platform/x", "crc32c_generic")));
    while (!cp.settle()) engine.wait(0);
    CHECK(p.kernel.calls("snd_pcsp") == 0);
    CHECK(p.kernel.calls("e1000e") == 1);
    CHECK(p.kernel.calls("ahci") == 1);
    CHECK(p.kernel.calls("crc32c_generic") == 0);
    ColdplugResult r = cp.finish();
    CHECK(r.modaliases == 4);
}

TEST_CASE("coldplug: at most max_modaliases distinct modaliases, however many uevents") {
    Plug p;
    p.open();
    LoadEngine engine(p.ctx);
    engine.start(1);
    Coldplug cp(engine, FsRoot(p.opt.sysroot));
    cp.start();
    const unsigned n = Coldplug::max_modaliases + 100;
    for (unsigned i = 0; i < n; ++i)
        cp.take_uevent(sv(uevent("add", "/devices/x" + std::to_string(i), "fake:" + std::to_string(i))));
    // The last one is a real driver: past the cap it is ignored too.
    cp.take_uevent(sv(uevent("add", "/devices/pci0000:00/0000:00:03.0", "pci:v00008086d000010D3sv*")));
    engine.wait(0);
    CHECK(cp.finish().modaliases == Coldplug::max_modaliases);
    CHECK(p.kernel.calls("e1000e") == 0);
}
