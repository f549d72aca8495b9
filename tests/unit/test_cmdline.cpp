// Options and blacklists from the kernel command line, with kmod's quirks.
#include <doctest/doctest.h>

#include <string>

#include "earlymod/config.h"

using namespace earlymod;

namespace {

std::string options_of(const char* cmdline) {
    Config c;
    c.parse_kernel_cmdline(cmdline);
    std::string s;
    for (const ConfigOptions& o : c.options) s += std::string(o.module) + " " + std::string(o.options) + "\n";
    return s;
}

std::string blacklist_of(const char* cmdline) {
    Config c;
    c.parse_kernel_cmdline(cmdline);
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
    CHECK(options_of(big.c_str()) == "");  // past kmod's 4095-byte limit
    CHECK(options_of("") == "");
    CHECK(options_of("...") == "");
}
