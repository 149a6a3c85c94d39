#ifndef VIGIL_CLINUX_SHIM_H
#define VIGIL_CLINUX_SHIM_H
/* Linux interfaces that Glibc's Swift module does not export. */
#include <sys/signalfd.h>
#endif
