// doctest's main for the unit tests, which run over the same sources as
// the binary, built with the host toolchain.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
