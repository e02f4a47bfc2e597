/*
 * bench_util.c - the helpers of bench_util.h: clock, /proc CPU times, free
 * port, child environment and list parsing shared by the benchmarks.
 */
#include "bench_util.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL

extern char **environ;

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void bench_sleep_until_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / NS_PER_S, .tv_nsec = ns % NS_PER_S};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* CPU time of pid in microseconds from /proc/<pid>/stat: its own in *own,
 * that of the children it has waited for in *reaped, its parent in *ppid.
 * Returns -1 when the process is gone or the file cannot be read. */
static int s_stat_cpu(pid_t pid, pid_t *ppid, int64_t *own, int64_t *reaped)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    size_t got = fread(line, 1, sizeof line - 1, file);
    fclose(file);
    line[got] = '\0';
    /* After the parenthesised command name: state, ppid, ... utime (14),
     * stime (15), cutime (16), cstime (17). */
    char *p = strrchr(line, ')');
    int parent = 0;
    unsigned long utime = 0, stime = 0;
    long cutime = 0, cstime = 0;
    if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &parent,
                     &utime, &stime, &cutime, &cstime) != 5)
        return -1;
    long tick = sysconf(_SC_CLK_TCK);
    *ppid = parent;
    *own = (int64_t)(utime + stime) * 1000000 / tick;
    *reaped = (int64_t)(cutime + cstime) * 1000000 / tick;
    return 0;
}

int64_t bench_proc_cpu_us(pid_t pid, pid_t *ppid)
{
    pid_t parent;
    int64_t own, reaped;
    if (s_stat_cpu(pid, &parent, &own, &reaped) != 0)
        return -1;
    if (ppid)
        *ppid = parent;
    return own;
}

int64_t bench_tree_cpu_us(pid_t root)
{
    if (root <= 0)
        return 0;
    int64_t total = 0;
    DIR *dir = opendir("/proc");
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        pid_t pid = (pid_t)atoi(entry->d_name), parent = 0;
        int64_t own, reaped;
        if (s_stat_cpu(pid, &parent, &own, &reaped) != 0)
            continue;
        if (pid == root)
            total += own + reaped;
        else if (parent == root)
            total += own;
    }
    if (dir)
        closedir(dir);
    return total;
}

int64_t bench_self_cpu_us(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (int64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

char **bench_child_env(const char *name, const char *const *extra)
{
    static const char key[] = "CHUANG_LOG_NAME=";
    size_t nextra = 0, nenv = 0;
    while (extra[nextra])
        nextra++;
    while (environ[nenv])
        nenv++;
    /* One block: the pointers, then the CHUANG_LOG_NAME string. */
    size_t slots = nextra + nenv + 2;
    size_t log_size = sizeof key + strlen(name);
    char **env = calloc(1, slots * sizeof *env + log_size);
    if (!env)
        return NULL;
    char *log_name = (char *)(env + slots);
    snprintf(log_name, log_size, "%s%s", key, name);
    size_t n = 0;
    env[n++] = log_name;
    for (size_t i = 0; i < nextra; i++)
        env[n++] = (char *)extra[i];
    for (size_t i = 0; i < nenv; i++) {
        bool overridden = strncmp(environ[i], key, sizeof key - 1) == 0;
        for (size_t j = 0; j < nextra && !overridden; j++) {
            size_t length = strcspn(extra[j], "=") + 1;
            overridden = strncmp(environ[i], extra[j], length) == 0;
        }
        if (!overridden)
            env[n++] = environ[i];
    }
    return env;
}

int bench_compare_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

int bench_parse_list(const char *text, int *values, int max, int max_count)
{
    int n = 0;
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return -1;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *end;
        long value = strtol(item, &end, 10);
        if (*end || value < 1 || value > max || n == max_count) {
            n = -1;
            break;
        }
        values[n++] = (int)value;
    }
    free(copy);
    if (n > 0)
        qsort(values, (size_t)n, sizeof *values, bench_compare_int);
    return n > 0 ? n : -1;
}

int bench_pg_environment(const char *url, const char *options, char **env)
{
    char *error = NULL;
    PQconninfoOption *parsed = PQconninfoParse(url, &error);
    if (!parsed) {
        fprintf(stderr, "bench: cannot parse the database URL: %s\n", error ? error : "?");
        PQfreemem(error);
        return -1;
    }
    static const char *const keys[][2] = {{"host", "PGHOST"},
                                          {"port", "PGPORT"},
                                          {"user", "PGUSER"},
                                          {"password", "PGPASSWORD"},
                                          {"dbname", "PGDATABASE"}};
    int n = 0;
    for (PQconninfoOption *o = parsed; o->keyword; o++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (strcmp(o->keyword, keys[k][0]) == 0 && o->val && *o->val) {
                size_t size = strlen(keys[k][1]) + strlen(o->val) + 2;
                env[n] = malloc(size);
                snprintf(env[n++], size, "%s=%s", keys[k][1], o->val);
            }
    size_t size = strlen(options) + sizeof "PGOPTIONS=";
    env[n] = malloc(size);
    snprintf(env[n++], size, "PGOPTIONS=%s", options);
    env[n] = NULL;
    PQconninfoFree(parsed);
    return 0;
}
