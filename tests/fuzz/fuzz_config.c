/*
 * fuzz_config.c - libFuzzer harness for the settings file parser: the
 * bytes are a settings file (key = value lines), read through config_new
 * from an anonymous memory file, then a few keys are looked up as text,
 * number and boolean.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("chuang-fuzz-config", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        config_t *config = config_new(path);
        if (config) {
            (void)config_str(config, "db.url", NULL);
            (void)config_int(config, "worker.threads", 2);
            (void)config_bool(config, "security.plain", false);
            config_destroy(&config);
        }
    }
    close(fd);
    return 0;
}
