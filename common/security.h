/*
 * security.h - CURVE on every ZeroMQ socket, ZAP against a certificate store.
 *
 * A process has one certificate (a CZMQ zcert secret file) and, to connect,
 * the public certificate of the server it talks to. A server also names the
 * folder of public certificates it lets in: a ZAP handler (CZMQ's zauth)
 * checks every connecting peer's key against it, and the socket enforces the
 * ZAP domain, so a peer whose key is not in the folder gets no connection at
 * all. Plain (unencrypted, unauthenticated) sockets exist only when the
 * configuration says so explicitly with security.plain = yes.
 *
 * Settings read:
 *   security.plain        yes to turn CURVE off (development only)
 *   security.cert         this process's secret certificate file
 *   security.server_cert  the server's public certificate file (clients)
 *   security.allow_dir    folder of public certificates let in (servers)
 *   security.worker_dir   folder of the certificates that may serve (brokers;
 *                         read by the broker itself)
 */
#ifndef CHUANG_SECURITY_H
#define CHUANG_SECURITY_H

#include "config.h"
#include <czmq.h>
#include <stdbool.h>

typedef struct _security_t security_t;

/* Reads the settings and loads the certificates. Returns NULL, after logging
 * which setting is wrong, when CURVE is on and a certificate is missing. */
security_t *security_new(config_t *config);

/* Stops the ZAP handler, frees and nulls *self_p; safe when NULL. */
void security_destroy(security_t **self_p);

bool security_plain(security_t *self);

/* Prepares a socket that will connect to the configured server: CURVE client
 * keys, or nothing in plain mode. Call before zsock_connect. */
void security_client(security_t *self, zsock_t *sock);

/* As security_client, but for a server whose public key is given as Z85
 * text (a process that talks to several servers with different keys). */
void security_client_to(security_t *self, zsock_t *sock, const char *server_public_z85);

/* Prepares a socket that will bind: CURVE server with ZAP checking every peer
 * against security.allow_dir (started on first use). Call before zsock_bind.
 * Returns -1 when the ZAP handler cannot start. */
int security_server(security_t *self, zsock_t *sock);

/* Generates a certificate pair: writes <path> (public) and <path>_secret.
 * Returns 0, or -1 when a file cannot be written. */
int security_keygen(const char *path, const char *name);

#endif
