// The kernel command line, both ways earlymod reads it:
//   Config::parse_cmdline_options()  kmod's rules (mod.param=, modprobe.blacklist=)
//   KernelParams::parse()           the kernel's own splitting (root=, rd.modules_load=...)
// then get/has/list on every key found and on the keys boot code asks for,
// WantedModules::add_from_cmdline() and parse_root_spec().
//
// Checks: has() and get() find every key that params() lists, get()
// returns the last value, list() items are non-empty and comma-free.
#include <string>

#include "earlymod/boot/root_device.h"
#include "earlymod/config/config.h"
#include "earlymod/config/kernel_params.h"
#include "earlymod/config/modules_load.h"
#include "earlymod/util/output.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

const char* const boot_keys[] = {
    "root",
    "rootfstype",
    "rootflags",
    "init",
    "ro",
    "rw",
    "rootwait",
    "rootdelay",
    "rd.modules_load",
    "modules_load",
    "rd.driver.pre",
    "rdloaddriver",
    "earlymodules",
    "module_blacklist",
    "earlymod.debug",
    "earlymod.jobs",
    "earlymod.coldplug",
    "earlymod.roottimeout",
    "modprobe.blacklist",
    "quiet",
};

void check_key(const KernelParams& params, std::string_view key) {
    std::string_view v;
    bool got = params.get(key, &v);
    bool has = params.has(key);
    FUZZ_CHECK2(got == has, key, v);
    const KernelParam* last = nullptr;
    for (const KernelParam& p : params.params())
        if (param_key_equal(p.key, key)) last = &p;
    FUZZ_CHECK2(has == (last != nullptr), key, std::string_view{});
    if (last) FUZZ_CHECK2(v.data() == last->value.data() && v.size() == last->value.size(), v, last->value);
    Vec<std::string_view> items;
    params.list(key, items);
    for (std::string_view item : items) {
        FUZZ_CHECK2(!item.empty(), key, item);
        FUZZ_CHECK2(item.find(',') == std::string_view::npos, key, item);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    std::string_view text = fuzz::as_text(data, size);

    Config conf;
    conf.parse_cmdline_options(text);
    {
        OutBuf sink(fuzz::devnull());
        conf.show(sink);
    }
    for (const ConfigOptions& o : conf.options) conf.is_blacklisted(o.module);

    KernelParams params;
    params.parse(text);
    size_t n = 0;
    for (const KernelParam& p : params.params()) {
        FUZZ_CHECK(!p.key.empty());
        FUZZ_CHECK(p.has_value || p.value.empty());
        if (++n <= 64) check_key(params, p.key);
    }
    for (const char* k : boot_keys) check_key(params, k);

    WantedModules wanted;
    wanted.add_from_cmdline(params);
    for (std::string_view name : wanted.names()) FUZZ_CHECK(!name.empty());

    std::string_view root;
    if (params.get("root", &root)) {
        RootSpec spec;
        parse_root_spec(root, &spec);
    }
    RootSpec spec;
    parse_root_spec(text, &spec);
    return 0;
}
