// The resource caps (issue 6): each limit is checked just below it (input
// still taken in full) and just past it (refused with an error naming the
// file, the line where there is one, and the limit).
#include <doctest/doctest.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "earlymod/config/config.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/engine/context.h"
#include "earlymod/engine/load_engine.h"
#include "earlymod/index/index.h"
#include "earlymod/util/files.h"
#include "earlymod/util/output.h"
#include "fake_kernel.h"
#include "fixture.h"

using namespace earlymod;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string repeat(const std::string& s, size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (size_t i = 0; i < n; ++i) out += s;
    return out;
}

// A module tree of its own: modules.dep and modprobe.d as given.
struct Tree {
    fixture::TempDir root;
    Options opt;
    fixture::FakeKernel kernel;
    Context ctx;
    Tree(const std::string& dep, const std::string& conf) {
        root.write("lib/modules/1.0/modules.dep", dep);
        root.write("etc/modprobe.d/limits.conf", conf);
        opt.sysroot = root.path();
        opt.kernel_release = "1.0";
        opt.cmdline = nullptr;
        opt.dry_run = true;
        opt.ignore_status = true;
        opt.kernel = &kernel;
    }
};

} // namespace

TEST_CASE("read_whole_file takes a file of max_whole_file_bytes and refuses a larger one") {
    fixture::TempDir dir;
    std::string path = dir.path() + "/big.conf";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, static_cast<off_t>(max_whole_file_bytes)) == 0);
    Arena arena;
    std::string_view text;
    CHECK(read_whole_file(path.c_str(), "/etc/modprobe.d/big.conf", arena, &text).ok());
    CHECK(text.size() == max_whole_file_bytes);
    REQUIRE(ftruncate(fd, static_cast<off_t>(max_whole_file_bytes) + 1) == 0);
    close(fd);
    Error e = read_whole_file(path.c_str(), "/etc/modprobe.d/big.conf", arena, &text);
    CHECK(e.code() == EFBIG);
    CHECK(has(e.message(), "/etc/modprobe.d/big.conf"));
    CHECK(has(e.message(), "16 MiB"));
}

TEST_CASE("a modprobe.d file of max_config_lines lines is read, one line more is refused") {
    // Mostly comments: directives have a limit of their own.
    std::string lines = "blacklist m\n" + repeat("#\n", max_config_lines - 2);
    Config full;
    std::string err = fixture::stderr_of([&] { full.parse(lines + "alias last xfs", "full.conf"); });
    CHECK(err.empty());
    CHECK(full.blacklist.size() == 1);
    CHECK(full.aliases.size() == 1);

    Config over;
    err = fixture::stderr_of([&] { over.parse(lines + "alias last xfs\n\n", "over.conf"); });
    CHECK(over.blacklist.empty());
    CHECK(over.aliases.empty());
    CHECK(has(err, "over.conf: more than " + std::to_string(max_config_lines) + " lines"));
}

TEST_CASE("a logical modprobe.d line longer than max_config_line_bytes is ignored, naming file and line") {
    // Built from backslash-joined pieces, so no physical line is long.
    auto joined = [](size_t bytes) {
        std::string raw = "options xfs ";
        size_t logical = raw.size();
        for (; logical + 100 <= bytes; logical += 100) raw += std::string(100, 'a') + "\\\n";
        return raw + std::string(bytes - logical, 'b') + "\n";
    };
    Config c;
    std::string err = fixture::stderr_of([&] {
        c.parse("alias first xfs\n" + joined(max_config_line_bytes) + joined(max_config_line_bytes + 1) +
                    "alias after xfs\n",
                "long.conf");
    });
    REQUIRE(c.options.size() == 1);
    CHECK(c.options[0].options.size() == max_config_line_bytes - 12);
    CHECK(c.aliases.size() == 2); // the lines around it are still read
    // The long line ends on physical line 2 + (its pieces): named by its end.
    CHECK(has(err, "long.conf line "));
    CHECK(has(err, "longer than " + std::to_string(max_config_line_bytes) + " bytes"));
}

TEST_CASE("configuration entries stop at max_config_entries, with one error naming the file and line") {
    Config c;
    std::string err = fixture::stderr_of([&] {
        c.parse(repeat("alias a b\n", max_config_entries / 2), "one.conf");
        c.parse(repeat("options m x=1\n", max_config_entries / 2), "two.conf");
    });
    CHECK(err.empty());
    err = fixture::stderr_of([&] { c.parse("# comment\nblacklist extra\nalias extra xfs\n", "three.conf"); });
    CHECK(c.blacklist.empty());
    CHECK(c.aliases.size() == max_config_entries / 2);
    CHECK(has(err, "three.conf line 2: more than " + std::to_string(max_config_entries)));
    // Reported once per file, not once per refused line.
    CHECK(err.find("three.conf") == err.rfind("three.conf"));
}

TEST_CASE("a text index of max_index_lines lines is read, one line more is refused") {
    // Blank lines count as lines and are cheap to skip.
    std::string blanks(max_index_lines - 1, '\n');
    // The index points into the text: it must outlive the index.
    std::string text = blanks + "alias fs-xfs xfs";
    TextIndex full;
    Error e = full.load(IndexKind::alias, text, "modules.alias");
    CHECK(e.ok());
    std::string_view v;
    Vec<IndexValue> found;
    full.search("fs_xfs", found); // queries come normalised
    CHECK(found.size() == 1);

    std::string over_text = blanks + "alias fs-xfs xfs\n\n";
    TextIndex over;
    e = over.load(IndexKind::alias, over_text, "/lib/modules/1.0/modules.alias");
    CHECK(e.code() == E2BIG);
    CHECK(has(e.message(), "/lib/modules/1.0/modules.alias: more than " + std::to_string(max_index_lines)));
    found.clear();
    over.search("fs_xfs", found);
    CHECK(found.empty());

    std::string dep_text = std::string(max_index_lines, '\n') + "x.ko:\n";
    TextIndex dep;
    e = dep.load(IndexKind::dep, dep_text, "modules.dep");
    CHECK(e.code() == E2BIG);
    CHECK_FALSE(dep.find("x", &v));
}

TEST_CASE("modules.builtin.modinfo: more than max_index_lines records are refused") {
    std::string records(max_index_lines, '\0');
    std::string over_text = records + "ext4.alias=fs-ext4";
    TextIndex over;
    Error e = over.load(IndexKind::builtin_alias, over_text, "modules.builtin.modinfo");
    CHECK(e.code() == E2BIG);
    CHECK(has(e.message(), "records"));
    std::string text = records.substr(1) + "ext4.alias=fs-ext4";
    TextIndex full;
    CHECK(full.load(IndexKind::builtin_alias, text, "m").ok());
    Vec<IndexValue> found;
    full.search("fs_ext4", found);
    CHECK(found.size() == 1);
}

TEST_CASE("a text index line longer than max_index_line_bytes is skipped, naming file and line") {
    std::string deps = "kernel/big.ko:";
    while (deps.size() <= max_index_line_bytes) deps += " kernel/d.ko";
    std::string text = "kernel/a.ko:\n" + deps + "\nkernel/z.ko:\n";
    TextIndex idx;
    Error e;
    std::string err = fixture::stderr_of([&] { e = idx.load(IndexKind::dep, text, "modules.dep"); });
    CHECK(e.ok());
    std::string_view v;
    CHECK(idx.find("a", &v));
    CHECK(idx.find("z", &v));
    CHECK_FALSE(idx.find("big", &v));
    CHECK(has(err, "modules.dep:2: line longer than " + std::to_string(max_index_line_bytes)));
}

TEST_CASE("bad text index lines: the first max_reported_bad_lines are named, the rest counted") {
    const size_t bad_lines = max_reported_bad_lines + 15;
    std::string text = "kernel/a.ko:\n";
    for (size_t i = 0; i < bad_lines; ++i) text += "no colon here\n";
    text += "kernel/z.ko:\n";
    TextIndex idx;
    Error e;
    std::string err = fixture::stderr_of([&] { e = idx.load(IndexKind::dep, text, "modules.dep"); });
    CHECK(e.ok());
    std::string_view v;
    CHECK(idx.find("a", &v));
    CHECK(idx.find("z", &v));
    size_t named = 0;
    for (size_t at = err.find("line skipped"); at != std::string::npos; at = err.find("line skipped", at + 1)) ++named;
    CHECK(named == max_reported_bad_lines);
    CHECK(has(err, "modules.dep:2: no ':' after the module path, line skipped"));
    CHECK(has(err, "modules.dep:" + std::to_string(max_reported_bad_lines + 1) + ": no ':'"));
    CHECK_FALSE(has(err, "modules.dep:" + std::to_string(max_reported_bad_lines + 2) + ":"));
    CHECK(has(err, "modules.dep: 15 more bad lines skipped"));
}

TEST_CASE("through a modules dir, a refused text index is an error and finds nothing") {
    Tree t("kernel/xfs.ko:\n", "");
    t.root.write("lib/modules/1.0/modules.alias", std::string(max_index_lines, '\n') + "alias fs-xfs xfs\n");
    REQUIRE(t.ctx.open(t.opt).ok());
    Error e;
    std::string err = fixture::stderr_of([&] { e = t.ctx.load("fs-xfs", ""); });
    CHECK_FALSE(e.ok());
    CHECK(has(err, "/lib/modules/1.0/modules.alias: more than"));
    CHECK(t.ctx.load("xfs", "").ok()); // modules.dep is fine
}

TEST_CASE("a module with max_module_deps dependencies loads, one more is refused") {
    auto tree = [](size_t n) {
        std::string dep = "kernel/top.ko:";
        std::string rest;
        for (size_t i = 0; i < n; ++i) {
            dep += " kernel/d" + std::to_string(i) + ".ko";
            rest += "kernel/d" + std::to_string(i) + ".ko:\n";
        }
        return dep + "\n" + rest;
    };
    Tree ok(tree(max_module_deps), "");
    REQUIRE(ok.ctx.open(ok.opt).ok());
    Vec<std::string_view> paths;
    CHECK(ok.ctx.dependencies("top", paths).ok());
    CHECK(paths.size() == max_module_deps + 1);

    Tree over(tree(max_module_deps + 1), "");
    REQUIRE(over.ctx.open(over.opt).ok());
    Error e;
    std::string err = fixture::stderr_of([&] { e = over.ctx.load("top", ""); });
    CHECK_FALSE(e.ok());
    CHECK(has(err, "modules.dep: module top has " + std::to_string(max_module_deps + 1) +
                       " dependencies, more than the limit of " + std::to_string(max_module_deps)));
}

TEST_CASE("a softdep chain max_softdep_depth long resolves, one link more is refused") {
    // m0's softdep names m1, whose softdep names m2, ...: links softdeps.
    auto tree = [](unsigned links) {
        std::string dep, conf;
        for (unsigned i = 0; i <= links; ++i) {
            dep += "kernel/m" + std::to_string(i) + ".ko:\n";
            if (i < links) conf += "softdep m" + std::to_string(i) + " pre: m" + std::to_string(i + 1) + "\n";
        }
        return std::make_pair(dep, conf);
    };
    auto [dep_ok, conf_ok] = tree(max_softdep_depth);
    Tree ok(dep_ok, conf_ok);
    REQUIRE(ok.ctx.open(ok.opt).ok());
    Vec<std::string_view> paths;
    CHECK(ok.ctx.dependencies("m0", paths).ok());
    CHECK(paths.size() == max_softdep_depth + 1);
    CHECK(ok.ctx.load("m0", "").ok());

    auto [dep_over, conf_over] = tree(max_softdep_depth + 1);
    Tree over(dep_over, conf_over);
    REQUIRE(over.ctx.open(over.opt).ok());
    Error e;
    fixture::stderr_of([&] { e = over.ctx.load("m0", ""); });
    CHECK(e.code() == ELOOP);
    // The line of the softdep that would nest one level too deep.
    CHECK(has(e.message(), "/etc/modprobe.d/limits.conf line " + std::to_string(max_softdep_depth + 1) +
                               ": softdeps of m" + std::to_string(max_softdep_depth)));
    CHECK(has(e.message(), "more than " + std::to_string(max_softdep_depth) + " deep"));
    paths.clear();
    CHECK(over.ctx.dependencies("m0", paths).code() == ELOOP);
    // The load engine refuses the same target: it fails, with that error.
    fixture::stderr_of([&] {
        LoadEngine engine(over.ctx);
        engine.start(2);
        CHECK(engine.submit("m0", Origin::wanted));
        CHECK(engine.wait(0));
        e = engine.last_failure();
    });
    CHECK(e.code() == ELOOP);
}

TEST_CASE("install commands nest up to max_command_depth") {
    // The depth this process was started with is read when the context
    // opens (as the command that started it set it).
    std::string below = std::to_string(max_command_depth - 1);
    setenv("EARLYMOD_COMMAND_DEPTH", below.c_str(), 1);
    Tree t("kernel/xfs.ko:\n", "install xfs /bin/true\n");
    t.opt.dry_run = false;
    REQUIRE(t.ctx.open(t.opt).ok());
    CHECK(t.ctx.load("xfs", "").ok());
    std::string at = std::to_string(max_command_depth);
    setenv("EARLYMOD_COMMAND_DEPTH", at.c_str(), 1);
    Tree t2("kernel/xfs.ko:\n", "install xfs /bin/true\n");
    t2.opt.dry_run = false;
    REQUIRE(t2.ctx.open(t2.opt).ok());
    unsetenv("EARLYMOD_COMMAND_DEPTH");
    Error e;
    fixture::stderr_of([&] { e = t2.ctx.load("xfs", ""); });
    CHECK(e.code() == ELOOP);
    CHECK(has(e.message(), "install command for xfs nested " + at + " deep, the limit"));
}

TEST_CASE("modules-load.d: max_modules_load_lines lines are read, one more refuses the file") {
    WantedModules full;
    std::string err = fixture::stderr_of(
        [&] { full.parse(std::string(max_modules_load_lines - 1, '\n') + "xfs\n", "/etc/modules-load.d/full.conf"); });
    CHECK(err.empty());
    CHECK(full.names().size() == 1);

    WantedModules over;
    err = fixture::stderr_of(
        [&] { over.parse(std::string(max_modules_load_lines, '\n') + "xfs\n", "/etc/modules-load.d/over.conf"); });
    CHECK(over.names().empty());
    CHECK(has(err, "/etc/modules-load.d/over.conf: more than " + std::to_string(max_modules_load_lines)));
}

TEST_CASE("modules-load.d: a line longer than max_modules_load_line_bytes is ignored, naming file and line") {
    WantedModules w;
    std::string err = fixture::stderr_of([&] {
        w.parse("xfs\n" + std::string(max_modules_load_line_bytes + 1, 'x') + "\n" +
                    std::string(max_modules_load_line_bytes, 'y') + "\n",
                "/etc/modules-load.d/long.conf");
    });
    REQUIRE(w.names().size() == 2);
    CHECK(w.names()[1].size() == max_modules_load_line_bytes);
    CHECK(has(err, "/etc/modules-load.d/long.conf:2: line longer than " + std::to_string(max_modules_load_line_bytes)));
}
