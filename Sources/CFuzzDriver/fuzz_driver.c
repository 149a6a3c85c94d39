#include "fuzz_driver.h"

/* Weak: defined by libFuzzer in a -sanitize=fuzzer build, null otherwise. SwiftPM renames an
   executable's `main`, so libFuzzer's own `main` never runs; its driver is called from ours. */
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t))
    __attribute__((weak));

int vigil_fuzz_main(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size)) {
    if (!LLVMFuzzerRunDriver) return -1;
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
