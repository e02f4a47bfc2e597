/*
 * channel.h - the notify service's delivery channels: e-mail through an SMTP
 * server and signed webhooks (an HTTP POST of JSON).
 *
 * Pure delivery: a send makes one attempt and says how it went, and the
 * caller (the notify service's queue) decides whether and when to try again.
 * Every send answers one of three outcomes:
 *
 *   CHANNEL_SENT       the server or receiver accepted the message
 *   CHANNEL_RETRY      it may work later: connection refused or reset, DNS,
 *                      TLS, a timeout, SMTP 4xx, HTTP 408, 429 and 5xx
 *   CHANNEL_PERMANENT  it will not work as it is: invalid input, SMTP 5xx
 *                      (an unknown recipient), HTTP 4xx other than 408 and
 *                      429, and HTTP 3xx (redirects are never followed)
 *
 * and writes a short lower-case reason into the caller's error buffer ("" on
 * SENT), e.g. "smtp server refused the recipient (550)" or "receiver
 * answered 503".
 *
 * E-mail is UTF-8 plain text: Content-Type: text/plain; charset=UTF-8 with
 * the body base64-encoded (so any 8-bit text survives any relay) and its line
 * breaks sent as CRLF, the canonical form of text. A subject that is not
 * printable ASCII (or is longer than 900 bytes) is sent RFC 2047 encoded as
 * one or more =?UTF-8?B?...?= words, each cut on a character boundary. The
 * message carries Date (UTC), Message-ID <delivery_id@chuang>, From and To.
 * smtp:// talks plain SMTP (a local relay), smtps:// implicit TLS.
 *
 * A webhook is a POST of the JSON, untouched, with the headers
 *
 *   Content-Type: application/json; charset=utf-8
 *   X-Chuang-Delivery: <delivery_id>
 *   X-Chuang-Timestamp: <unix seconds, decimal>
 *   X-Chuang-Signature: sha256=<64 lower-case hex digits>
 *
 * where the signature is HMAC-SHA256, keyed with the subscriber's secret
 * (its bytes, any length), over "<timestamp>.<json>": the timestamp's
 * decimal digits, one '.', then the body bytes exactly as sent. A receiver
 * recomputes it over the raw body it got (channel_signature) and should also
 * refuse timestamps too far from its clock, which stops replays. Redirects
 * are never followed; the response body is read up to 64 KiB and discarded,
 * and the status alone decides (a 2xx whose body is cut is still SENT).
 *
 * Delivery ids are 1 to 128 characters among letters, digits, '-', '_' and
 * '.', so that they fit both a header and a Message-ID unchanged.
 *
 * libcurl's global state is set up once, on first use (pthread_once), and
 * never torn down; each send here uses its own curl handle and connection,
 * so every function here is thread-safe and sends may run in parallel
 * (channel_pool.h makes many sends at once from one thread over connections
 * kept open). Nothing is logged and no
 * signal is used (CURLOPT_NOSIGNAL), so the process should ignore SIGPIPE,
 * which a TLS write to a connection the peer closed may raise. Sends honour
 * libcurl's proxy variables (https_proxy, no_proxy, ...). Needs libcurl
 * 7.85 or later (CURLOPT_PROTOCOLS_STR).
 */
#ifndef CHUANG_CHANNEL_H
#define CHUANG_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { CHANNEL_SENT, CHANNEL_RETRY, CHANNEL_PERMANENT } channel_outcome_t;

/* Size of a signature header value, "sha256=" and 64 hex digits, with NUL. */
#define CHANNEL_SIGNATURE_SIZE 72

/* The longest address and webhook URL accepted, in bytes. */
#define CHANNEL_EMAIL_MAX 254
#define CHANNEL_URL_MAX   2048

/* Checks an e-mail address: one '@'; a local part of 1 to 64 letters,
 * digits and !#$%&'*+-/=?^_`{|}~ with dots only between them (no quoted
 * local parts); a domain of letters, digits and hyphens in dot-separated
 * labels of 1 to 63, no label starting or ending in a hyphen, with at least
 * one dot unless it is "localhost" (international domains in punycode);
 * at most 254 bytes; no spaces or control characters. Returns 0 (reason
 * set to "") or -1 with a short reason in reason (size bytes, may be NULL). */
int channel_email_check(const char *address, char *reason, size_t size);

/* Checks a webhook URL: http:// or https:// (any case), a host (a name or
 * IPv4 address of letters, digits, hyphens and dots, or an IPv6 address in
 * brackets), an optional port 1 to 65535, then an optional path, query and
 * fragment of URL characters with valid %-escapes; no user name or password;
 * at most 2048 bytes; ASCII only, no spaces or control characters. Returns
 * 0 (reason "") or -1 with a short reason, as channel_email_check. */
int channel_url_check(const char *url, char *reason, size_t size);

/* Sets where webhooks may go, for the whole process; call once at start-up,
 * before any send. By default a webhook URL must be https:// and its host
 * must not be, or resolve to, a loopback, unspecified, link-local, private,
 * shared (100.64/10), benchmark, multicast or reserved address, nor one of
 * this machine's own; the address is checked again on every connection, so
 * a name that later resolves elsewhere is caught too. allow_http admits
 * http:// (development only); allow_hosts (comma-separated host names or
 * addresses, NULL for none) are let through whatever they resolve to, for
 * an operator's own receivers. The policy is copied. */
void channel_webhook_policy(bool allow_http, const char *allow_hosts);

/* Checks url as channel_url_check does and against the policy above,
 * resolving its host now. Returns 0 (reason "") or -1 with a short reason,
 * e.g. "url host resolves to 127.0.0.1, a loopback address". */
int channel_webhook_check(const char *url, char *reason, size_t size);

/* Sends one e-mail from from to to through the SMTP server at smtp_url
 * (smtp://host[:port] or smtps://...), taking at most timeout_ms (> 0) in
 * all; subject is UTF-8 without control characters, body UTF-8 text. See
 * above for the message and the outcomes. All strings are the caller's and
 * only read; error (size bytes, may be NULL) gets the reason. */
channel_outcome_t channel_email_send(const char *smtp_url, const char *from, const char *to,
                                     const char *subject, const char *body, const char *delivery_id,
                                     int timeout_ms, char *error, size_t size);

/* POSTs json (sent as given, not parsed) to url, signed with secret (not
 * empty), taking at most timeout_ms (> 0) in all. See above for the headers
 * and the outcomes. Strings are the caller's and only read; error (size
 * bytes, may be NULL) gets the reason. */
channel_outcome_t channel_webhook_send(const char *url, const char *secret, const char *delivery_id,
                                       const char *json, int timeout_ms, char *error, size_t size);

/* Writes the signature header value "sha256=<64 lower-case hex>" of json at
 * timestamp (the X-Chuang-Timestamp text) keyed with secret into out, which
 * needs CHANNEL_SIGNATURE_SIZE (72) bytes; a smaller out, or a NULL
 * argument, gets "" (when size > 0). Compare it with sodium_memcmp or
 * another constant-time comparison. */
void channel_signature(const char *secret, const char *timestamp, const char *json, char *out,
                       size_t size);

#endif
