// Before root: resume= and its companions read from the command line, the
// writes that tell the kernel where a hibernation image is, a swap area's
// identity (resume=UUID= finds it before and after hibernation), and the
// break points (rd.break). The boot tests (tests/boot/run: hibernate,
// resume-no-image, break-*, btrfs-raid1-root) run them in a real kernel.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <memory>
#include <string>
#include <vector>

#include "earlymod/boot/boot.h"
#include "earlymod/boot/resume.h"
#include "earlymod/boot/root_device.h"
#include "earlymod/config/kernel_params.h"
#include "fixture.h"

using namespace earlymod;

namespace {

// The request's strings point into the command line's parameters: those
// are kept for the whole test run.
ResumeAsk ask(const char* cmdline, ResumeRequest* req, std::string* why = nullptr, unsigned long root_timeout = 30) {
    static std::vector<std::unique_ptr<KernelParams>> kept;
    kept.push_back(std::make_unique<KernelParams>());
    KernelParams& p = *kept.back();
    p.parse(cmdline);
    char buf[256];
    ResumeAsk a = resume_request(p, root_timeout, req, buf, sizeof buf);
    if (why) *why = buf;
    return a;
}

// A swap area as util-linux's mkswap lays it out for 4 KiB pages: version
// 1, the UUID at 1036, the label at 1052, the signature ending page one.
std::string swap_area(const char* signature) {
    std::string d(8192, '\0');
    d[1024] = 1;
    const unsigned char uuid[16] = {0x3f, 0x6d, 0x2c, 0x81, 0x5a, 0x0e, 0x4b, 0x7d,
                                    0x9c, 0x12, 0xe4, 0x8a, 0x7b, 0x0f, 0x6d, 0x25};
    memcpy(&d[1036], uuid, 16);
    memcpy(&d[1052], "swaplabel", 9);
    memcpy(&d[4096 - 10], signature, strlen(signature));
    return d;
}

} // namespace

TEST_CASE("resume=: nothing without it, or with noresume anywhere on the line") {
    ResumeRequest r;
    CHECK(ask("root=/dev/vda", &r) == ResumeAsk::none);
    CHECK(ask("resume=", &r) == ResumeAsk::none);
    CHECK(ask("resume=/dev/vdb noresume", &r) == ResumeAsk::none);
    CHECK(ask("noresume resume=/dev/vdb", &r) == ResumeAsk::none);
}

TEST_CASE("resume=: every form root= takes, resume_offset= in pages, its own timeout") {
    ResumeRequest r;
    REQUIRE(ask("resume=/dev/vdb", &r) == ResumeAsk::resume);
    CHECK(r.device.kind == RootSpec::path);
    CHECK(r.shown == "/dev/vdb");
    CHECK_FALSE(r.has_offset);
    CHECK(r.timeout_s == 30);
    REQUIRE(ask("resume=UUID=3f6d2c81-5a0e-4b7d-9c12-e48a7b0f6d25 resume_offset=34816", &r) == ResumeAsk::resume);
    CHECK(r.device.kind == RootSpec::uuid);
    CHECK(r.has_offset);
    CHECK(r.offset == 34816);
    REQUIRE(ask("resume=254:16 resume_offset=0x8800", &r) == ResumeAsk::resume);
    CHECK(r.device.kind == RootSpec::devnum);
    CHECK(r.device.number == makedev(254, 16));
    CHECK(r.offset == 0x8800);
    CHECK(ask("resume=LABEL=swap", &r) == ResumeAsk::resume);
    CHECK(ask("resume=PARTUUID=0a1b2c3d-02", &r) == ResumeAsk::resume);
    // The root's timeout unless earlymod.resumetimeout= says otherwise.
    REQUIRE(ask("resume=/dev/vdb", &r, nullptr, 7) == ResumeAsk::resume);
    CHECK(r.timeout_s == 7);
    REQUIRE(ask("resume=/dev/vdb earlymod.resumetimeout=3", &r, nullptr, 7) == ResumeAsk::resume);
    CHECK(r.timeout_s == 3);
    REQUIRE(ask("resume=/dev/vdb earlymod.resumetimeout=99999999999999999999999", &r) == ResumeAsk::resume);
    CHECK(r.timeout_s == RootWait::max_wait_s);
}

TEST_CASE("resume=: a form not understood, or an offset that is not a page number, is said and not used") {
    ResumeRequest r;
    std::string why;
    CHECK(ask("resume=FOO=bar", &r, &why) == ResumeAsk::invalid);
    CHECK(why.find("resume=FOO=bar") != std::string::npos);
    CHECK(ask("resume=/dev/vdb resume_offset=12k", &r, &why) == ResumeAsk::invalid);
    CHECK(why.find("resume_offset=12k") != std::string::npos);
    CHECK(ask("resume=/dev/vdb resume_offset=", &r, &why) == ResumeAsk::invalid);
    CHECK(ask("resume=/dev/vdb resume_offset=-1", &r, &why) == ResumeAsk::invalid);
    // Past 64 bits: refused, never wrapped to a small offset.
    CHECK(ask("resume=/dev/vdb resume_offset=18446744073709551616", &r, &why) == ResumeAsk::invalid);
    CHECK(ask("resume=/dev/vdb resume_offset=0x10000000000000000", &r, &why) == ResumeAsk::invalid);
    REQUIRE(ask("resume=/dev/vdb resume_offset=18446744073709551615", &r) == ResumeAsk::resume);
    CHECK(r.offset == UINT64_MAX);
}

TEST_CASE("resume: the offset is written before the device, the device as MAJ:MIN") {
    fixture::TempDir dir;
    dir.write("resume", "");
    dir.write("resume_offset", "");
    ResumeRequest r;
    REQUIRE(ask("resume=/dev/vdb resume_offset=34816", &r) == ResumeAsk::resume);
    REQUIRE(write_resume(dir.path().c_str(), makedev(254, 16), r).ok());
    CHECK(dir.read("resume") == "254:16");
    CHECK(dir.read("resume_offset") == "34816");
    // No offset given: resume_offset is left alone (the kernel's 0).
    fixture::TempDir plain;
    plain.write("resume", "");
    REQUIRE(ask("resume=/dev/vdb", &r) == ResumeAsk::resume);
    REQUIRE(write_resume(plain.path().c_str(), makedev(8, 3), r).ok());
    CHECK(plain.read("resume") == "8:3");
    // resume_offset refused (a kernel without it): resume is not written,
    // and the error names the file.
    fixture::TempDir refusing;
    refusing.write("resume", "");
    REQUIRE(ask("resume=/dev/vdb resume_offset=1", &r) == ResumeAsk::resume);
    Error e = write_resume(refusing.path().c_str(), makedev(8, 3), r);
    CHECK_FALSE(e.ok());
    CHECK(std::string(e.message()).find("resume_offset") != std::string::npos);
    CHECK(refusing.read("resume").empty());
}

TEST_CASE("swap identity: a swap area's UUID and label, also once a hibernation image is in it") {
    fixture::TempDir dir;
    for (const char* sig : {"SWAPSPACE2", "S1SUSPEND"}) {
        CAPTURE(sig);
        dir.write("swap.img", swap_area(sig));
        FsIdentity id;
        REQUIRE(read_fs_identity((dir.path() + "/swap.img").c_str(), &id));
        CHECK(std::string(id.type) == "swap");
        CHECK(std::string(id.uuid) == "3f6d2c81-5a0e-4b7d-9c12-e48a7b0f6d25");
        CHECK(std::string(id.label) == "swaplabel");
    }
    // The old (version 0) signature is not a swap area the kernel resumes from.
    dir.write("old.img", swap_area("SWAP-SPACE"));
    FsIdentity id;
    CHECK_FALSE(read_fs_identity((dir.path() + "/old.img").c_str(), &id));
    // Cut before the signature: not read past the end.
    dir.write("short.img", swap_area("SWAPSPACE2").substr(0, 4000));
    CHECK_FALSE(read_fs_identity((dir.path() + "/short.img").c_str(), &id));
}

TEST_CASE("swap identity: the area mkswap makes") {
    fixture::TempDir dir;
    std::string img = dir.path() + "/swap.img";
    std::string cmd = "truncate -s 1M '" + img + "' && mkswap -U 0d6f6b3c-2a1e-4c55-9e0a-2f6e3b1c7d88 -L sw '" + img +
                      "' >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) {
        MESSAGE("mkswap unavailable: not run");
        return;
    }
    FsIdentity id;
    REQUIRE(read_fs_identity(img.c_str(), &id));
    CHECK(std::string(id.type) == "swap");
    CHECK(std::string(id.uuid) == "0d6f6b3c-2a1e-4c55-9e0a-2f6e3b1c7d88");
    CHECK(std::string(id.label) == "sw");
}

TEST_CASE("break points: rd.break and earlymod.break, bare and with the names other tools use") {
    auto points = [](const char* cmdline) {
        KernelParams p;
        p.parse(cmdline);
        return break_points(p);
    };
    BreakPoints b = points("root=/dev/vda");
    CHECK_FALSE(b.pre_mount);
    CHECK_FALSE(b.pre_switch);
    b = points("rd.break");
    CHECK(b.pre_mount);
    CHECK_FALSE(b.pre_switch);
    b = points("rd.break=pre-switch");
    CHECK_FALSE(b.pre_mount);
    CHECK(b.pre_switch);
    b = points("earlymod.break=premount earlymod.break=pre-pivot");
    CHECK(b.pre_mount);
    CHECK(b.pre_switch);
    b = points("rd.break=postmount rd.break=pre-mount");
    CHECK(b.pre_mount);
    CHECK(b.pre_switch);
    std::string err = fixture::stderr_of([&] { b = points("rd.break=cmdline"); });
    CHECK_FALSE(b.pre_mount);
    CHECK_FALSE(b.pre_switch);
    CHECK(err.find("rd.break=cmdline") != std::string::npos);
}
