// libearlymod's entry point: a program includes this header alone.
//
// The library is layered as src/ is (docs/design.md), and so are its
// headers: earlymod/util/ (errors, containers, files, text), index/ (the
// module indexes), config/ (modprobe.d, the kernel command line), plan/
// (the resolver), kernel/ (the kernel interface), decompress/, engine/
// (the Context facade: load, unload, dependencies; and the parallel load
// engine) and boot/ (what init mode does). The API a program uses is
// Context, in engine/context.h; see examples/plan.cpp.
#pragma once

#include "earlymod/engine/context.h"
