// The modprobe command line, run in-process with its output captured.
#include <doctest/doctest.h>

#include <string>

#include "../../src/cli/commands.h"
#include "tree.h"

using fixture::capture;

namespace {

struct Cli {
    fixture::TempDir root;
    Cli() { fixture::write_module_tree(root, true); }
    fixture::Captured run(std::vector<std::string> args) {
        std::vector<std::string> full = {"modprobe", "--sysroot", root.path(), "-S", "1.0"};
        full.insert(full.end(), args.begin(), args.end());
        return capture(earlymod::run_modprobe, full);
    }
};

} // namespace

TEST_CASE("modprobe -D prints kmod's lines, paths as seen inside the sysroot") {
    Cli cli;
    auto r = cli.run({"-D", "xfs"});
    CHECK(r.status == 0);
    CHECK(r.out ==
          "insmod /lib/modules/1.0/kernel/arch/crc32c-intel.ko \n"
          "insmod /lib/modules/1.0/kernel/crypto/crc32c_generic.ko \n"
          "insmod /lib/modules/1.0/kernel/lib/libcrc32c.ko \n"
          "insmod /lib/modules/1.0/kernel/fs/xfs.ko debug=1 \n");
    CHECK(r.out.find(cli.root.path()) == std::string::npos);
}

TEST_CASE("modprobe: extra arguments are module parameters; values with blanks get quotes") {
    Cli cli;
    auto r = cli.run({"-D", "btrfs", "a=1", "b=x y"});
    CHECK(r.out.substr(r.out.rfind("insmod")) == "insmod /lib/modules/1.0/kernel/fs/btrfs.ko a=1 b=\"x y\"\n");
}

TEST_CASE("modprobe -R prints the resolved names; unknown names fail with a message") {
    Cli cli;
    auto r = cli.run({"-R", "crc32c"});
    CHECK(r.status == 0);
    CHECK(r.out == "crc32c_intel\ncrc32c_generic\n");
    auto bad = cli.run({"-R", "nosuch"});
    CHECK(bad.status == 1);
    CHECK(bad.out.empty());
    CHECK(bad.err.find("FATAL: Module nosuch not found in directory /lib/modules/1.0") != std::string::npos);
    auto quiet = cli.run({"-q", "-D", "nosuch"});
    CHECK(quiet.status == 1);
    CHECK(quiet.err.empty());
}

TEST_CASE("modprobe -a continues past an unknown name and fails at the end") {
    Cli cli;
    auto r = cli.run({"-a", "-D", "xfs", "nosuch", "ext4"});
    CHECK(r.status == 1);
    CHECK(r.out.find("xfs.ko") != std::string::npos);
    CHECK(r.out.find("builtin ext4\n") != std::string::npos);
    CHECK(r.err.find("WARNING: Module nosuch not found") != std::string::npos);
}

TEST_CASE("modprobe -c prints the configuration, then the alias and symbol indexes") {
    Cli cli;
    auto r = cli.run({"-c"});
    CHECK(r.status == 0);
    CHECK(r.out.find("blacklist snd_pcsp\ninstall dummy_install /bin/true\n") == 0);
    CHECK(r.out.find("\n# End of configuration files. Dumping indexes now:\n\nalias crc32c crc32c_intel\n") !=
          std::string::npos);
    CHECK(r.out.find("alias symbol:raid6_call raid6_pq\n") != std::string::npos);
    CHECK(r.out.find("softdep libcrc32c pre: crc32c\n") != std::string::npos);
}

TEST_CASE("modprobe: usage errors and help") {
    Cli cli;
    auto none = cli.run({});
    CHECK(none.status == 1);
    CHECK(none.err.find("missing parameters") != std::string::npos);
    auto help = cli.run({"-h"});
    CHECK(help.status == 0);
    CHECK(help.out.find("--sysroot") != std::string::npos);
    auto bad = capture(earlymod::run_modprobe, {"modprobe", "--sysroot", "/nonexistent-dir", "-D", "x"});
    CHECK(bad.status == 1);
    CHECK(bad.err.find("/nonexistent-dir") != std::string::npos);
}
