#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

/// Vigil's version (Package.swift's `version`, or VIGIL_VERSION at build time).
const char *vigil_version(void);

#endif
