// Config::parse() on modprobe.d text, then show() and the lookups.
//
// Checks: every plain (non-glob) softdep, install and remove entry is
// found by its own name; blacklisted names are blacklisted.
#include <string>

#include "earlymod/config/config.h"
#include "earlymod/util/output.h"
#include "fuzz_common.h"

using namespace earlymod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    Config conf;
    conf.parse(fuzz::as_text(data, size), "fuzz.conf");
    {
        OutBuf sink(fuzz::devnull());
        conf.show(sink);
    }
    std::string_view cmd;
    size_t n = 0;
    for (const ConfigSoftdep& d : conf.softdeps) {
        if (++n > 64) break;
        const ConfigSoftdep* got = conf.softdep_for(d.module);
        if (!d.glob) FUZZ_CHECK2(got != nullptr, d.module, std::string_view{});
        if (got) FUZZ_CHECK2(config_name_matches(got->module, got->glob, d.module), got->module, d.module);
        conf.softdep_for(std::string(d.module) + "x");
    }
    n = 0;
    for (const ConfigCommand& c : conf.install) {
        if (++n > 64) break;
        bool found = conf.install_for(c.module, &cmd);
        if (!c.glob) FUZZ_CHECK2(found, c.module, std::string_view{});
    }
    n = 0;
    for (const ConfigCommand& c : conf.remove) {
        if (++n > 64) break;
        bool found = conf.remove_for(c.module, &cmd);
        if (!c.glob) FUZZ_CHECK2(found, c.module, std::string_view{});
    }
    n = 0;
    for (const ConfigAlias& a : conf.aliases) {
        if (++n > 64) break;
        // An alias's module name as a lookup key, as the resolver does.
        conf.softdep_for(a.module);
        conf.install_for(a.module, &cmd);
        conf.is_blacklisted(a.module);
        config_name_matches(a.pattern, a.glob, a.module);
    }
    n = 0;
    for (std::string_view b : conf.blacklist) {
        if (++n > 64) break;
        FUZZ_CHECK2(conf.is_blacklisted(b), b, std::string_view{});
    }
    for (const char* name : {"", "ext4", "snd_hda_intel", "nvidia", "pcspkr"}) {
        conf.softdep_for(name);
        conf.install_for(name, &cmd);
        conf.remove_for(name, &cmd);
        conf.is_blacklisted(name);
    }
    return 0;
}
