/*
 * fuzz_guard.c: libFuzzer target for the FastCGI guard's scanner, the code
 * that reads record headers and PARAMS lengths sent by anyone who can reach
 * the socket.  `make fuzz` runs it for a bounded time under ASan+UBSan.
 */
#include <stddef.h>
#include <stdint.h>

#include "bridge/fcgi_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t consumed;
    int role = 0, id = 0;
    const char *why;
    fw_guard_result_e res;

    res = fw_fcgi_guard_scan(data, size, &consumed, &role, &id, &why);
    if (res == FW_GUARD_MANAGEMENT && (consumed == 0 || consumed > size)) {
        __builtin_trap();
    }
    if (res == FW_GUARD_READY && (role < 1 || role > 3)) {
        __builtin_trap();
    }
    return 0;
}
