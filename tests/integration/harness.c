/*
 * harness.c - processes and databases for integration tests; see harness.h.
 *
 * Databases and roles are made by deploy/lib/stack.sh's stack_pg_service,
 * the same code the local run uses, so the tests exercise what operators get.
 */
#include "harness.h"
#include "client.h"
#include "config.h"
#include "security.h"

#include <czmq.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#ifndef CHUANG_HARNESS_ENV
#error "CHUANG_HARNESS_ENV must name the harness's env file"
#endif
#ifndef CHUANG_SOURCE_DIR
#error "CHUANG_SOURCE_DIR must name the source tree"
#endif

#define CHILDREN_MAX 64

static zhash_t *s_env;
static char s_dir[512];
static pid_t s_children[CHILDREN_MAX]; /* spawned and not yet stopped */

/* At exit, a test that failed half-way leaves no process behind (one would
 * also keep ctest waiting on the output pipe it inherited). */
static void s_kill_children(void)
{
    for (int i = 0; i < CHILDREN_MAX; i++)
        if (s_children[i] > 0) {
            kill(s_children[i], SIGKILL);
            waitpid(s_children[i], NULL, 0);
            s_children[i] = 0;
        }
}

int harness_init(const char *test_name)
{
    zsys_init();
    zsys_handler_set(NULL); /* the test itself sends signals to children only */
    atexit(s_kill_children);
    s_env = zhash_new();
    zhash_autofree(s_env);
    /* A test with servers of its own (it restarts them) names their env
     * file in CHUANG_HARNESS_ENV; the others share the harness's. */
    const char *env_path = getenv("CHUANG_HARNESS_ENV");
    if (!env_path || !*env_path)
        env_path = CHUANG_HARNESS_ENV;
    FILE *file = fopen(env_path, "r");
    if (!file) {
        fprintf(stderr,
                "harness: %s not found; run the tests with ctest, which starts the "
                "harness\n",
                env_path);
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            zhash_update(s_env, line, eq + 1);
        }
    }
    fclose(file);
    const char *base = harness_get("CHUANG_TEST_DIR");
    if (!base)
        return -1;
    snprintf(s_dir, sizeof s_dir, "%s/%s", base, test_name);
    harness_sh("rm -rf '%s' && mkdir -p '%s'", s_dir, s_dir);
    fprintf(stderr, "harness: logs in %s\n", s_dir);
    return 0;
}

const char *harness_get(const char *key)
{
    return s_env ? zhash_lookup(s_env, key) : NULL;
}

const char *harness_dir(void)
{
    return s_dir;
}

int harness_sh(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *command = zsys_vprintf(format, args);
    va_end(args);
    int rc = system(command);
    zstr_free(&command);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const char *harness_service_db(const char *dbname, const char *service)
{
    static char url[512];
    char *command = zsys_sprintf("bash -c 'source \"%s/deploy/lib/stack.sh\" && stack_pg_service "
                                 "\"%s\" %s %s %s-test-pw'",
                                 CHUANG_SOURCE_DIR, harness_get("CHUANG_TEST_PG_ADMIN_URL"), dbname,
                                 service, service);
    FILE *pipe = popen(command, "r");
    zstr_free(&command);
    if (!pipe)
        return NULL;
    url[0] = '\0';
    char *got = fgets(url, sizeof url, pipe);
    int rc = pclose(pipe);
    if (!got || rc != 0)
        return NULL;
    url[strcspn(url, "\r\n")] = '\0';
    return url;
}

int harness_free_port(void)
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

pid_t harness_spawn(const char *name, const char *program, const char *const *env)
{
    char log_path[768];
    snprintf(log_path, sizeof log_path, "%s/%s.log", s_dir, name);
    pid_t pid = fork();
    if (pid != 0) {
        for (int i = 0; pid > 0 && i < CHILDREN_MAX; i++)
            if (s_children[i] == 0) {
                s_children[i] = pid;
                break;
            }
        return pid;
    }
    /* Dies with the test, however the test ends (a failed assertion exits
     * through atexit; a timeout or kill -9 leaves only this). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(127);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    for (size_t i = 0; env && env[i]; i++)
        putenv((char *)env[i]);
    setenv("CHUANG_LOG_NAME", name, 1);
    execl(program, program, (char *)NULL);
    fprintf(stderr, "harness: cannot run %s\n", program);
    _exit(127);
}

int harness_stop(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    for (int i = 0; i < CHILDREN_MAX; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
    kill(pid, sig);
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        zclock_sleep(20);
    }
    kill(pid, SIGKILL);
    return waitpid(pid, &status, 0) == pid ? status : -1;
}

int harness_wait_service(const char *endpoint, const char *service, int timeout_ms)
{
    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    security_t *security = security_new(config);
    client_t *client = client_new(endpoint, security);
    client_set_timeouts(client, 500, 500);
    int rc = -1;
    for (int64_t end = zclock_mono() + timeout_ms; zclock_mono() < end; zclock_sleep(50))
        if (client_service_exists(client, service) == 1) {
            rc = 0;
            break;
        }
    client_destroy(&client);
    security_destroy(&security);
    config_destroy(&config);
    return rc;
}

int harness_recipient_key(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/recipient.key", s_dir);
    FILE *file = fopen(path, "w");
    if (!file)
        return -1;
    fprintf(file, "%s\n", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    fclose(file);
    return setenv("CHUANG_NOTIFY_RECIPIENT_KEY", path, 1);
}

int harness_receivers_start(harness_receivers_t *receivers)
{
    memset(receivers, 0, sizeof *receivers);
    receivers->stdin_fd = -1;
    int in[2], out[2];
    if (pipe(in) != 0)
        return -1;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", CHUANG_SOURCE_DIR "/services/notify/test_receivers.py",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    for (int i = 0; pid > 0 && i < CHILDREN_MAX; i++)
        if (s_children[i] == 0) {
            s_children[i] = pid;
            break;
        }
    receivers->pid = pid;
    receivers->stdin_fd = in[1];
    FILE *ready = pid > 0 ? fdopen(out[0], "r") : NULL;
    char line[1024] = "";
    int rc = ready && fgets(line, sizeof line, ready) &&
                     sscanf(line, "SMTP %d HTTP %d DIR %511s", &receivers->smtp_port,
                            &receivers->http_port, receivers->dir) == 3
                 ? 0
                 : -1;
    if (ready)
        fclose(ready);
    else
        close(out[0]);
    return rc;
}

void harness_receivers_stop(harness_receivers_t *receivers)
{
    if (receivers->stdin_fd >= 0)
        close(receivers->stdin_fd);
    receivers->stdin_fd = -1;
    if (receivers->pid > 0)
        harness_stop(receivers->pid, SIGTERM, 5000);
    receivers->pid = 0;
}
