/*
 * security.c - CURVE keys and the ZAP handler; see security.h.
 *
 * The ZAP handler is CZMQ's zauth actor, started the first time a server
 * socket is prepared and configured with the allow folder. zauth reloads the
 * folder when it changes, so an operator adds a client by copying its public
 * certificate there.
 */
#include "security.h"
#include "logger.h"

#include <limits.h>
#include <sys/stat.h>

#define ZAP_DOMAIN "chuang"

struct _security_t {
    bool plain;
    zcert_t *cert;       /* own certificate, with its secret key */
    char *server_public; /* Z85 public key of the server a client talks to */
    char *allow_dir;
    zactor_t *auth;
};

security_t *security_new(config_t *config)
{
    security_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->plain = config_bool(config, "security.plain", false);
    if (self->plain) {
        log_warn("security is off: sockets are plain, unencrypted and unauthenticated",
                 "setting=security.plain");
        return self;
    }
    const char *cert_path = config_str(config, "security.cert", NULL);
    if (!cert_path) {
        log_error("security.cert is not set; CURVE needs this process's secret certificate", NULL);
        goto fail;
    }
    self->cert = zcert_load(cert_path);
    if (!self->cert) {
        log_error("cannot load certificate", "setting=security.cert path=%s", cert_path);
        goto fail;
    }
    const char *server_path = config_str(config, "security.server_cert", NULL);
    if (server_path) {
        zcert_t *server = zcert_load(server_path);
        if (!server) {
            log_error("cannot load server certificate", "setting=security.server_cert path=%s",
                      server_path);
            goto fail;
        }
        self->server_public = strdup(zcert_public_txt(server));
        zcert_destroy(&server);
    }
    const char *allow_dir = config_str(config, "security.allow_dir", NULL);
    if (allow_dir)
        self->allow_dir = strdup(allow_dir);
    return self;

fail:
    security_destroy(&self);
    return NULL;
}

void security_destroy(security_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    security_t *self = *self_p;
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self->server_public);
    free(self->allow_dir);
    free(self);
    *self_p = NULL;
}

bool security_plain(security_t *self)
{
    return self->plain;
}

void security_client(security_t *self, zsock_t *sock)
{
    security_client_to(self, sock, self->server_public);
}

void security_client_to(security_t *self, zsock_t *sock, const char *server_public_z85)
{
    if (self->plain)
        return;
    assert(server_public_z85); /* security_new checked the settings */
    zcert_apply(self->cert, sock);
    zsock_set_curve_serverkey(sock, server_public_z85);
}

int security_server(security_t *self, zsock_t *sock)
{
    if (self->plain)
        return 0;
    if (!self->allow_dir) {
        log_error("security.allow_dir is not set; a CURVE server needs the folder of "
                  "certificates it lets in",
                  NULL);
        return -1;
    }
    if (!self->auth) {
        self->auth = zactor_new(zauth, NULL);
        if (!self->auth)
            return -1;
        zstr_sendx(self->auth, "CURVE", self->allow_dir, NULL);
        zsock_wait(self->auth);
    }
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, ZAP_DOMAIN);
    zsock_set_zap_enforce_domain(sock, 1);
    return 0;
}

int security_keygen(const char *path, const char *name)
{
    zcert_t *cert = zcert_new();
    if (!cert)
        return -1;
    zcert_set_meta(cert, "name", "%s", name);
    char *created = zclock_timestr();
    zcert_set_meta(cert, "created", "%s", created);
    zstr_free(&created);
    int rc = zcert_save(cert, path);
    zcert_destroy(&cert);
    if (rc == 0) {
        char secret[PATH_MAX];
        snprintf(secret, sizeof secret, "%s_secret", path);
        rc = chmod(secret, 0600);
    }
    return rc;
}
