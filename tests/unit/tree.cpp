#include "tree.h"

namespace fixture {

void write_module_tree(const TempDir& root, bool with_bin) {
    const std::string dir = "lib/modules/1.0/";
    const char* modules[] = {
        "kernel/fs/xfs.ko",
        "kernel/lib/libcrc32c.ko",
        "kernel/crypto/crc32c_generic.ko",
        "kernel/arch/crc32c-intel.ko",
        "kernel/fs/btrfs.ko",
        "kernel/lib/xor.ko",
        "kernel/lib/raid6_pq.ko",
        "kernel/drivers/e1000e.ko",
        "kernel/drivers/ahci.ko",
        "kernel/drivers/libahci.ko",
        "kernel/sound/snd-pcsp.ko",
        "kernel/test/a.ko",
        "kernel/test/b.ko",
        "kernel/test/ping.ko",
        "kernel/test/pong.ko",
    };
    for (const char* m : modules) root.write(dir + m, "not really a module\n");
    root.write(dir + "modules.dep",
               "kernel/fs/xfs.ko: kernel/lib/libcrc32c.ko\n"
               "kernel/lib/libcrc32c.ko:\n"
               "kernel/crypto/crc32c_generic.ko:\n"
               "kernel/arch/crc32c-intel.ko:\n"
               "kernel/fs/btrfs.ko: kernel/lib/xor.ko kernel/lib/raid6_pq.ko kernel/lib/libcrc32c.ko\n"
               "kernel/lib/xor.ko:\n"
               "kernel/lib/raid6_pq.ko:\n"
               "kernel/drivers/e1000e.ko:\n"
               "kernel/drivers/ahci.ko: kernel/drivers/libahci.ko\n"
               "kernel/drivers/libahci.ko:\n"
               "kernel/sound/snd-pcsp.ko:\n"
               "kernel/test/a.ko: kernel/test/b.ko\n"
               "kernel/test/b.ko: kernel/test/a.ko\n"
               "kernel/test/ping.ko:\n"
               "kernel/test/pong.ko:\n");
    root.write(dir + "modules.alias",
               "alias crc32c crc32c_intel\n"
               "alias crc32c crc32c_generic\n"
               "alias fs-xfs xfs\n"
               "alias pci:v00008086d*sv*sd*bc*sc*i* e1000e\n"
               "alias pci:v*d*sv*sd*bc01sc06i01* ahci\n"
               "alias pcspkr snd_pcsp\n");
    root.write(dir + "modules.softdep", "softdep libcrc32c pre: crc32c\n");
    root.write(dir + "modules.symbols", "alias symbol:raid6_call raid6_pq\n");
    root.write(dir + "modules.builtin", "kernel/fs/ext4.ko\n");
    root.write("etc/modprobe.d/test.conf",
               "options xfs debug=1\n"
               "options fs_xfs via_alias=1\n"
               "blacklist snd_pcsp\n"
               "install dummy_install /bin/true\n"
               "softdep ping post: pong\n"
               "softdep pong pre: ping\n"
               "alias myalias btrfs\n");
    if (with_bin) {
        root.write(
            dir + "modules.dep.bin",
            write_bin_index({
                {"xfs", "kernel/fs/xfs.ko: kernel/lib/libcrc32c.ko", 0},
                {"libcrc32c", "kernel/lib/libcrc32c.ko:", 1},
                {"crc32c_generic", "kernel/crypto/crc32c_generic.ko:", 2},
                {"crc32c_intel", "kernel/arch/crc32c-intel.ko:", 3},
                {"btrfs", "kernel/fs/btrfs.ko: kernel/lib/xor.ko kernel/lib/raid6_pq.ko kernel/lib/libcrc32c.ko", 4},
                {"xor", "kernel/lib/xor.ko:", 5},
                {"raid6_pq", "kernel/lib/raid6_pq.ko:", 6},
                {"e1000e", "kernel/drivers/e1000e.ko:", 7},
                {"ahci", "kernel/drivers/ahci.ko: kernel/drivers/libahci.ko", 8},
                {"libahci", "kernel/drivers/libahci.ko:", 9},
                {"snd_pcsp", "kernel/sound/snd-pcsp.ko:", 10},
                {"a", "kernel/test/a.ko: kernel/test/b.ko", 11},
                {"b", "kernel/test/b.ko: kernel/test/a.ko", 12},
                {"ping", "kernel/test/ping.ko:", 13},
                {"pong", "kernel/test/pong.ko:", 14},
            }));
        root.write(dir + "modules.alias.bin", write_bin_index({
                                                  {"crc32c", "crc32c_intel", 2},
                                                  {"crc32c", "crc32c_generic", 3},
                                                  {"fs_xfs", "xfs", 0},
                                                  {"pci:v00008086d*sv*sd*bc*sc*i*", "e1000e", 7},
                                                  {"pci:v*d*sv*sd*bc01sc06i01*", "ahci", 8},
                                                  {"pcspkr", "snd_pcsp", 10},
                                              }));
        root.write(dir + "modules.symbols.bin", write_bin_index({{"symbol:raid6_call", "raid6_pq", 6}}));
        root.write(dir + "modules.builtin.bin", write_bin_index({{"ext4", "", 0}}));
    }
}

} // namespace fixture
