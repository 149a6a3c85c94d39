#ifndef VIGIL_FUZZ_DRIVER_H
#define VIGIL_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (LLVMFuzzerRunDriver) with `callback` for each input when the binary was
/// built with -sanitize=fuzzer; returns -1 when it was not (libFuzzer is not linked in).
int vigil_fuzz_main(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));
#endif
