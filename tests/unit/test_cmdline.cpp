// Options and blacklists from the kernel command line, with kmod's quirks;
// the number keys init and load read from it.
#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <utility>

#include "earlymod/boot/boot.h"
#include "earlymod/config/config.h"
#include "earlymod/config/kernel_params.h"
#include "fixture.h"

using namespace earlymod;

namespace {

std::string options_of(const char* cmdline) {
    Config c;
    c.parse_cmdline_options(cmdline);
    std::string s;
    for (const ConfigOptions& o : c.options) s += std::string(o.module) + " " + std::string(o.options) + "\n";
    return s;
}

std::string blacklist_of(const char* cmdline) {
    Config c;
    c.parse_cmdline_options(cmdline);
    std::string s;
    for (std::string_view b : c.blacklist) s += std::string(b) + "\n";
    return s;
}

} // namespace

TEST_CASE("mod.param=value becomes an option; the module name is normalised") {
    CHECK(options_of("quiet root=/dev/vda snd-hda-intel.power_save=1 xfs.debug\n") ==
          "snd_hda_intel power_save=1\nxfs debug\n");
}

TEST_CASE("dots in the value are fine; a second dot in the name or a stray quote drops the token") {
    CHECK(options_of("foo.testparam=1.5G bar.a.b=1 baz.x\"y\"=1 ok.v=2") == "foo testparam=1.5G\nok v=2\n");
    // An unclosed stray quote swallows the rest of the line, as in kmod.
    CHECK(options_of("baz.x\"y=1 ok.v=2") == "");
}

TEST_CASE("quoted values keep their quotes and blanks") {
    CHECK(options_of("foobar.x=\"test 1\" next.y=2") == "foobar x=\"test 1\"\nnext y=2\n");
}

TEST_CASE("a token that starts with a quote is re-quoted around the value") {
    CHECK(options_of("\"parport.dyndbg=file drivers/parport/ieee1284_ops.c +mpf\" a.b=1") ==
          "parport dyndbg=\"file drivers/parport/ieee1284_ops.c +mpf\"\na b=1\n");
}

TEST_CASE("modprobe.blacklist adds entries, repeatable, not normalised") {
    CHECK(blacklist_of("modprobe.blacklist=snd-pcsp,nouveau modprobe.blacklist=xfs") == "snd-pcsp\nnouveau\nxfs\n");
    CHECK(options_of("modprobe.blacklist=a") == "");
}

TEST_CASE("hostile command lines: unbalanced quotes, no '=' in a module name, long input") {
    CHECK(options_of("\"a.b=1 c.d=2") == "");
    CHECK(options_of("a=b.c=1 x.y=1") == "x y=1\n");
    std::string big(10000, 'a');
    big += ".b=1";
    CHECK(options_of(big.c_str()) == ""); // past kmod's 4095-byte limit
    CHECK(options_of("") == "");
    CHECK(options_of("...") == "");
}

// Number keys of the kernel command line (KernelParams::number and its
// users): values past what the code can hold saturate, with a warning.
namespace {

const KernelParams* number_params;
const char* number_key;
unsigned long number_dflt, number_max, number_result;

int read_number(int, char**) {
    number_result = number_params->number(number_key, number_dflt, number_max);
    return 0;
}

// The value of key under cmdline, and what was logged (stderr).
std::pair<unsigned long, std::string> number_of(const char* cmdline, const char* key, unsigned long dflt,
                                                unsigned long max) {
    KernelParams p;
    p.parse(cmdline);
    number_params = &p;
    number_key = key;
    number_dflt = dflt;
    number_max = max;
    fixture::Captured c = fixture::capture(read_number, {"number"});
    return {number_result, c.err};
}

const KernelParams* wait_params;
RootWait wait_result;

int read_root_wait(int, char**) {
    wait_result = root_wait(*wait_params);
    return 0;
}

std::pair<RootWait, std::string> root_wait_of(const char* cmdline) {
    KernelParams p;
    p.parse(cmdline);
    wait_params = &p;
    fixture::Captured c = fixture::capture(read_root_wait, {"root_wait"});
    return {wait_result, c.err};
}

} // namespace

TEST_CASE("number keys: a value past the maximum or past 64 bits saturates at the maximum, with a warning") {
    auto [v, err] = number_of("k=7", "k", 3, 100);
    CHECK(v == 7);
    CHECK(err == "");
    std::tie(v, err) = number_of("k=100", "k", 3, 100);
    CHECK(v == 100);
    CHECK(err == "");
    std::tie(v, err) = number_of("k=101", "k", 3, 100);
    CHECK(v == 100);
    CHECK(err == "earlymod: k=101 is more than 100: using 100\n");
    // 2^64 and far past it: not the default, not a wrapped value.
    for (const char* big : {"k=18446744073709551616", "k=99999999999999999999999999999999"}) {
        std::tie(v, err) = number_of(big, "k", 3, 100);
        CHECK(v == 100);
        CHECK(err.find("is more than 100: using 100") != std::string::npos);
    }
    std::tie(v, err) = number_of("k=18446744073709551615", "k", 3, ~0ul); // the largest that fits
    CHECK(v == ~0ul);
    CHECK(err == "");
}

TEST_CASE("number keys: absent gives the default; junk gives the default with a warning") {
    auto [v, err] = number_of("other=1", "k", 3, 100);
    CHECK(v == 3);
    CHECK(err == "");
    for (const char* junk : {"k", "k=", "k=-1", "k=+5", "k=5s", "k=0x10", "k= 5"}) {
        CAPTURE(junk);
        std::tie(v, err) = number_of(junk, "k", 3, 100);
        CHECK(v == 3);
        CHECK(err.find("is not a number: using 3") != std::string::npos);
    }
    std::tie(v, err) = number_of("k=200 k=9", "k", 3, 100); // the last one wins
    CHECK(v == 9);
    CHECK(err == "");
}

TEST_CASE("earlymod.roottimeout= past 2^64 ns (18446744074 s) saturates at the maximum, not 0.29 s") {
    auto [w, err] = root_wait_of("earlymod.roottimeout=18446744074");
    CHECK(w.timeout_s == RootWait::max_wait_s);
    CHECK(w.command_timeout_ms == RootWait::max_wait_s * 1000);
    CHECK(err.find("earlymod.roottimeout=18446744074 is more than 1000000: using 1000000") != std::string::npos);
    // Past what unsigned long holds: the maximum, not the default 30 s.
    std::tie(w, err) = root_wait_of("earlymod.roottimeout=99999999999999999999999");
    CHECK(w.timeout_s == RootWait::max_wait_s);
    CHECK(err.find("using 1000000") != std::string::npos);
    std::tie(w, err) = root_wait_of("earlymod.roottimeout=5");
    CHECK(w.timeout_s == 5);
    CHECK(w.command_timeout_ms == 5000);
    CHECK(err == "");
    std::tie(w, err) = root_wait_of("quiet");
    CHECK(w.timeout_s == RootWait::default_timeout_s);
    CHECK(w.command_timeout_ms == RootWait::default_timeout_s * 1000);
    CHECK(w.delay_s == 0);
    CHECK_FALSE(w.forever);
}

TEST_CASE("rootdelay= past 32 bits and past 64 bits saturates at the maximum, with a warning") {
    for (const char* big : {"rootdelay=4294967297", "rootdelay=18446744073709551617"}) {
        CAPTURE(big);
        auto [w, err] = root_wait_of(big);
        CHECK(w.delay_s == RootWait::max_wait_s);
        CHECK(err.find("rootdelay=") != std::string::npos);
        CHECK(err.find("using 1000000") != std::string::npos);
    }
    auto [w, err] = root_wait_of("rootdelay=2 rootwait");
    CHECK(w.delay_s == 2);
    CHECK(w.forever);
    CHECK(err == "");
}

namespace {

const char* jobs_root;
unsigned jobs_result;

int read_jobs(int, char**) {
    BootSetup boot;
    boot.prepare(FsRoot(jobs_root), nullptr, 0);
    jobs_result = boot.jobs;
    return 0;
}

} // namespace

TEST_CASE("earlymod.jobs= past the maximum (or past 64 bits) is the maximum, with a warning") {
    for (const char* big : {"17", "4294967312", "99999999999999999999999"}) {
        CAPTURE(big);
        fixture::TempDir root;
        root.write("proc/cmdline", std::string("earlymod.jobs=") + big + "\n");
        jobs_root = root.path().c_str();
        fixture::Captured c = fixture::capture(read_jobs, {"jobs"});
        CHECK(jobs_result == Context::max_jobs);
        CHECK(c.err.find(std::string("earlymod.jobs=") + big + " is more than 16: using 16") != std::string::npos);
    }
    fixture::TempDir root;
    root.write("proc/cmdline", "earlymod.jobs=2\n");
    jobs_root = root.path().c_str();
    fixture::Captured c = fixture::capture(read_jobs, {"jobs"});
    CHECK(jobs_result == 2);
    CHECK(c.err == "");
}
