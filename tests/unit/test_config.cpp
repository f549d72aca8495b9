// The modprobe.d language and the order in which files are read.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "earlymod/config/config.h"
#include "earlymod/config/kernel_params.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/util/output.h"
#include "fixture.h"

using namespace earlymod;

namespace {

std::string shown(const Config& c) {
    fixture::TempDir dir;
    std::string path = dir.path() + "/show";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    {
        OutBuf out(fd);
        c.show(out);
    }
    close(fd);
    return dir.read("show");
}

} // namespace

TEST_CASE("directives: names normalised, options accumulate with tabs turned to spaces") {
    Config c;
    c.parse(
        "alias fs-foo foo-bar\n"
        "options snd-pcsp index=-2\n"
        "options snd_pcsp\tenable=1  x=2\n"
        "blacklist pcspkr\n"
        "install dummy /bin/true $CMDLINE_OPTS\n"
        "remove dummy /bin/false\n",
        "t.conf");
    REQUIRE(c.aliases.size() == 1);
    CHECK(c.aliases[0].pattern == "fs_foo");
    CHECK(c.aliases[0].module == "foo_bar");
    REQUIRE(c.options.size() == 2);
    CHECK(c.options[0].module == "snd_pcsp");
    CHECK(c.options[1].options == "enable=1  x=2");
    CHECK(c.is_blacklisted("pcspkr"));
    std::string_view cmd;
    REQUIRE(c.install_for("dummy", &cmd));
    CHECK(cmd == "/bin/true $CMDLINE_OPTS");
    REQUIRE(c.remove_for("dummy", &cmd));
    CHECK(cmd == "/bin/false");
}

TEST_CASE("comments only in column 0, backslash joins lines, bad lines are skipped") {
    Config c;
    c.parse(
        "# comment\n"
        "  # not a comment: a bad line\n"
        "options a \\\n"
        "  x=1\n"
        "alias onlyone\n"
        "options lonely\n"
        "blacklist\n"
        "frobnicate x\n"
        "softdep nbd\n"
        "options b y=\\2\n",
        "t.conf");
    REQUIRE(c.options.size() == 2);
    CHECK(c.options[0].module == "a");
    CHECK(c.options[0].options == "  x=1");
    CHECK(c.options[1].options == "y=2"); // a backslash before another byte is dropped
    CHECK(c.aliases.size() == 0);
    CHECK(c.blacklist.size() == 0);
    CHECK(c.softdeps.size() == 0);
}

TEST_CASE("softdep: pre and post lists; the first matching line wins; kmod's -c spelling") {
    Config c;
    c.parse(
        "softdep ifb pre: dummy post: loop nbd\n"
        "softdep ifb pre: other\n"
        "softdep cifs gcm\n"
        "softdep x* post: y\n",
        "t.conf");
    const ConfigSoftdep* d = c.softdep_for("ifb");
    REQUIRE(d);
    REQUIRE(d->n_pre == 1);
    CHECK(d->pre[0] == "dummy");
    REQUIRE(d->n_post == 2);
    CHECK(d->post[1] == "nbd");
    REQUIRE(c.softdep_for("xyz"));
    CHECK(c.softdep_for("xyz")->post[0] == "y");
    CHECK(c.softdep_for("nope") == nullptr);
    CHECK(shown(c) ==
          "softdep ifb pre: dummypost: loop nbd\n"
          "softdep ifb pre: other\n"
          "softdep cifs \n"
          "softdep x* post: y\n");
}

TEST_CASE("show prints sections in kmod's order") {
    Config c;
    c.parse("options o a=1\nalias al m\nremove r /bin/r\ninstall i /bin/i\nblacklist b\n", "t.conf");
    CHECK(shown(c) ==
          "blacklist b\n"
          "install i /bin/i\n"
          "remove r /bin/r\n"
          "alias al m\n"
          "options o a=1\n");
}

TEST_CASE("weakdep is accepted and has no effect; NUL bytes and huge lines do not break parsing") {
    Config c;
    std::string text = "weakdep a b\noptions x ";
    text += std::string(3 * 1024 * 1024, 'y');
    text += std::string("\noptions z k=1\0junk\noptions w v=2\n", 34);
    text.append("options n", 9);
    text.push_back('\0');
    text += " q=1\n";
    c.parse(text, "t.conf");
    // The 3 MiB line is past max_config_line_bytes: refused (test_limits.cpp
    // checks the message), and the lines after it are still read.
    REQUIRE(c.options.size() >= 2);
    CHECK(c.options[0].options == "k=1");
    CHECK(c.options[1].options == "v=2");
}

TEST_CASE("files: sorted by name across directories, the first directory wins, only .conf and .alias") {
    fixture::TempDir root;
    root.write("etc/modprobe.d/b.conf", "options from_etc_b x=1\n");
    root.write("etc/modprobe.d/same.conf", "options same where=etc\n");
    root.write("lib/modprobe.d/a.conf", "options from_lib_a x=1\n");
    root.write("lib/modprobe.d/same.conf", "options same where=lib\n");
    root.write("lib/modprobe.d/c.txt", "options ignored x=1\n");
    root.write("lib/modprobe.d/.hidden.conf", "options ignored x=1\n");
    root.write("lib/modprobe.d/old.alias", "options from_alias_file x=1\n");
    root.mkdir("lib/modprobe.d/dir.conf");
    root.write("lib/modules/1/modules.softdep", "softdep m pre: n\n");
    root.write("proc/cmdline", "quiet xfs.debug=1 modprobe.blacklist=a,b\n");
    Config c;
    FsRoot fs(root.path());
    c.load(fs, nullptr, 0, "/lib/modules/1", "/proc/cmdline");
    std::string order;
    for (const ConfigOptions& o : c.options) order += std::string(o.module) + ";";
    CHECK(order == "from_lib_a;from_etc_b;from_alias_file;same;xfs;");
    CHECK(c.options[3].options == "where=etc");
    CHECK(c.options[4].options == "debug=1");
    CHECK(c.softdep_for("m") != nullptr);
    CHECK(c.is_blacklisted("a"));
    CHECK(c.is_blacklisted("b"));

    // -C: the given files and directories replace the default ones.
    root.write("custom/x.conf", "options custom y=1\n");
    std::string_view paths[] = {"/custom"};
    Config d;
    d.load(fs, paths, 1, "/lib/modules/1", nullptr);
    REQUIRE(d.options.size() == 1);
    CHECK(d.options[0].module == "custom");
    CHECK(d.softdep_for("m") != nullptr); // modules.softdep is still read
}

TEST_CASE("sysroot: absolute links, relative links and .. are resolved inside the root, never on the host") {
    fixture::TempDir host, root;
    host.write("secret.conf", "options secret x=1\n");
    root.write("lib/real.conf", "options rerooted x=1\n");
    std::string secret = host.path() + "/secret.conf";
    root.mkdir("etc/modprobe.d");
    // An absolute link to the host's file: inside the root it names
    // ROOT/<that path>, which does not exist.
    REQUIRE(symlink(secret.c_str(), (root.path() + "/etc/modprobe.d/a.conf").c_str()) == 0);
    // An absolute link into the root's own /lib: followed there.
    REQUIRE(symlink("/lib/real.conf", (root.path() + "/etc/modprobe.d/b.conf").c_str()) == 0);
    // A relative link that climbs out: ".." stops at the root.
    std::string climb = "../../../../../../../../.." + secret;
    REQUIRE(symlink(climb.c_str(), (root.path() + "/etc/modprobe.d/c.conf").c_str()) == 0);
    // A directory link to / (the host's, seen from outside).
    REQUIRE(symlink("/", (root.path() + "/up").c_str()) == 0);

    FsRoot fs(root.path());
    char buf[4096];
    REQUIRE(fs.host_path("/../../lib/real.conf", buf, sizeof buf));
    CHECK(std::string(buf) == root.path() + "/lib/real.conf");
    REQUIRE(fs.host_path("/etc/modprobe.d/b.conf", buf, sizeof buf));
    CHECK(std::string(buf) == root.path() + "/lib/real.conf");
    REQUIRE(fs.host_path("/up" + secret, buf, sizeof buf));
    CHECK(std::string(buf) == root.path() + secret);
    REQUIRE(fs.host_path("/missing/../../x", buf, sizeof buf));
    CHECK(std::string(buf).rfind(root.path() + "/missing/", 0) == 0); // fails at "missing", inside
    REQUIRE(fs.host_path("/", buf, sizeof buf));
    CHECK(std::string(buf) == root.path() + "/");
    // A loop of links is refused, not followed forever.
    REQUIRE(symlink("/loop", (root.path() + "/loop").c_str()) == 0);
    CHECK_FALSE(fs.host_path("/loop/x", buf, sizeof buf));

    Config c;
    c.load(fs, nullptr, 0, "/lib/modules/1", nullptr);
    std::string seen;
    for (const ConfigOptions& o : c.options) seen += std::string(o.module) + ";";
    CHECK(seen == "rerooted;");
}

TEST_CASE("config dirs: modules-load.d and cmdline.d read with modprobe.d's rules, inside the root") {
    fixture::TempDir host, root;
    host.write("evil.conf", "evil_from_host\n");
    root.write("etc/modules-load.d/b.conf", "from_etc_b\n");
    root.write("lib/modules-load.d/b.conf", "from_lib_b\n"); // masked by /etc's b.conf
    root.write("lib/modules-load.d/a.conf", "from_lib_a\n");
    root.write("lib/modules-load.d/c.conf", "from_lib_c\n");
    root.mkdir("lib/modules-load.d/sub.conf");
    root.mkdir("etc/modules-load.d");
    REQUIRE(symlink("/dev/null", (root.path() + "/etc/modules-load.d/c.conf").c_str()) == 0);
    REQUIRE(symlink((host.path() + "/evil.conf").c_str(), (root.path() + "/etc/modules-load.d/d.conf").c_str()) == 0);
    FsRoot fs(root.path());
    WantedModules w;
    w.add_from_dirs(fs);
    std::string seen;
    for (std::string_view n : w.names()) seen += std::string(n) + ";";
    CHECK(seen == "from_lib_a;from_etc_b;");

    root.write("etc/cmdline.d/2.conf", "b=2\n");
    root.write("etc/cmdline.d/1.conf", "a=1\n");
    REQUIRE(symlink((host.path() + "/evil.conf").c_str(), (root.path() + "/etc/cmdline.d/3.conf").c_str()) == 0);
    KernelParams k;
    k.load(fs);
    std::string_view v;
    CHECK(k.get("a", &v));
    CHECK(k.get("b", &v));
    CHECK_FALSE(k.has("evil_from_host"));
}
