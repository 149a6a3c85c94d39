#include "vigil_version.h"

// VIGIL_VERSION is defined by Package.swift: a C define, so that a build with another version
// recompiles this file alone and relinks (the package test rebuilds with a changed version).
const char *vigil_version(void) { return VIGIL_VERSION; }
