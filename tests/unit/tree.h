// A small module tree for resolver and command tests: text indexes under
// ROOT/lib/modules/1.0 and a modprobe.d under ROOT/etc, with the .bin
// forms of the indexes optionally written too.
#pragma once

#include "fixture.h"

namespace fixture {

void write_module_tree(const TempDir& root, bool with_bin);

} // namespace fixture
