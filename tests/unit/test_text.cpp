// Name normalisation, glob matching and path checks.
#include <doctest/doctest.h>
#include <fnmatch.h>

#include <string>

#include "earlymod/util/text.h"

using namespace earlymod;

TEST_CASE("module names: dashes become underscores and the name stops at the first dot") {
    char buf[64];
    CHECK(normalize_modname("snd-hda-intel.ko.xz", buf, sizeof buf) == "snd_hda_intel");
    CHECK(normalize_modname("xfs", buf, sizeof buf) == "xfs");
    CHECK(normalize_modname("", buf, sizeof buf) == "");
    // Truncated to the buffer, never overflowing it.
    char tiny[4];
    CHECK(normalize_modname("abcdef", tiny, sizeof tiny) == "abc");
}

TEST_CASE("aliases: dashes become underscores except inside brackets; bad brackets are refused") {
    char buf[64];
    std::string_view out;
    REQUIRE(normalize_alias("fs-xfs", buf, sizeof buf, &out));
    CHECK(out == "fs_xfs");
    REQUIRE(normalize_alias("usb:v13FDp3940d0[0-2]*-x", buf, sizeof buf, &out));
    CHECK(out == "usb:v13FDp3940d0[0-2]*_x");
    CHECK_FALSE(normalize_alias("foo]", buf, sizeof buf, &out));
    CHECK_FALSE(normalize_alias("pci:v[", buf, sizeof buf, &out));
}

TEST_CASE("underscores in place, as kmod does for configuration words") {
    char a[] = "snd-pcsp";
    CHECK(underscores_in_place(a, sizeof a - 1));
    CHECK(std::string(a) == "snd_pcsp");
    char b[] = "x[a-b]-y";
    CHECK(underscores_in_place(b, sizeof b - 1));
    CHECK(std::string(b) == "x[a-b]_y");
    char c[] = "x[a";
    CHECK_FALSE(underscores_in_place(c, sizeof c - 1));
}

TEST_CASE("glob matching agrees with fnmatch(3) on alias-style patterns") {
    const char* patterns[] = {
        "pci:v00008086d*sv*sd*bc*sc*i*",
        "usb:v13FDp3940d0[0-2]*dc*",
        "*",
        "?",
        "a?c",
        "[!a]b",
        "[^a]b",
        "x[]]y",
        "x[!]]y",
        "a*b*c",
        "*d00001234sv*",
        "acpi*:PNP0C0[0-9A-F]:*",
        "ab[",
        "a\\*b",
        "a[b-]c",
        "cpu:type:x86,ven*fam*mod*:feature:*0081*",
        "",
        "[a-c][x-z]*",
        "*[0-9]",
    };
    const char* strings[] = {
        "pci:v00008086d00001234sv00001028sd00000001bc02sc00i00",
        "usb:v13FDp3940d01dc00",
        "usb:v13FDp3940d03dc00",
        "",
        "a",
        "abc",
        "bb",
        "ab",
        "x]y",
        "xay",
        "aXbYc",
        "acpi:PNP0C0A:",
        "ab[",
        "a*b",
        "a-c",
        "ac",
        "cpu:type:x86,ven0000fam0006mod0055:feature:,0081,0000",
        "bz",
        "cz9",
        "foo7",
        "foo",
        "xxd00001234sv",
        "d00001234s",
    };
    for (const char* p : patterns)
        for (const char* s : strings) {
            INFO("pattern " << p << " string " << s);
            CHECK(glob_match(p, s) == (fnmatch(p, s, 0) == 0));
        }
}

TEST_CASE("glob matching hands character classes to libc") {
    CHECK(glob_match("a[[:digit:]]b", "a7b"));
    CHECK_FALSE(glob_match("a[[:digit:]]b", "axb"));
}

TEST_CASE("paths from modules.dep: relative and without '..' components only") {
    CHECK(is_safe_relative_path("kernel/fs/xfs/xfs.ko"));
    CHECK(is_safe_relative_path("kernel/a..b/x.ko"));
    CHECK(is_safe_relative_path("updates/..x.ko"));
    CHECK_FALSE(is_safe_relative_path("/etc/passwd"));
    CHECK_FALSE(is_safe_relative_path("../x.ko"));
    CHECK_FALSE(is_safe_relative_path("kernel/../../x.ko"));
    CHECK_FALSE(is_safe_relative_path("kernel/.."));
    CHECK_FALSE(is_safe_relative_path(""));
}

TEST_CASE("tokens split on any separator and skip runs of them") {
    std::string_view rest = "  a\t b  c ";
    CHECK(next_token(rest, " \t") == "a");
    CHECK(next_token(rest, " \t") == "b");
    CHECK(next_token(rest, " \t") == "c");
    CHECK(next_token(rest, " \t").empty());
    CHECK(path_basename("a/b/c.ko") == "c.ko");
    CHECK(path_basename("c.ko") == "c.ko");
    unsigned long v = 0;
    CHECK(parse_uint("1234", &v));
    CHECK(v == 1234);
    CHECK_FALSE(parse_uint("12x", &v));
    CHECK_FALSE(parse_uint("99999999999999999999999", &v));
}
