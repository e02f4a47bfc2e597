/*
 * principals.h - who each CURVE key is: the broker's principal table.
 *
 * The table is a text file (security.principals), one key a line:
 *
 *   # key (Z85, 40 characters)               name          kind      agencies  roles delegates
 *   Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID  zhang.san     operator  330106    officer          -
 *   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  gateway.web   gateway   330106    - applicant,officer
 *
 * kind is operator, service, department or gateway; agencies, roles and
 * delegates are comma-separated lists, "-" for none. A last field rate=N
 * gives the key its own limit of N requests a second (0: none), in place of
 * its kind's. A gateway may act for
 * the people it authenticates, with the roles it may delegate and nothing
 * more. A key the table does not list holds no agency and no role.
 *
 * Before the broker forwards a request it asks the table to stamp the
 * envelope: a claimed agency or role the key does not hold is refused with a
 * message that says which; what the sender left out is filled in (the
 * principal's only agency, its roles); the authenticated principal is
 * written into the envelope, replacing whatever the sender put there. The
 * file is read again when it changes, so keys are issued and revoked without
 * a restart; a file that does not parse leaves the table as it was.
 */
#ifndef CHUANG_PRINCIPALS_H
#define CHUANG_PRINCIPALS_H

#include "chuang.pb-c.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct _principals_t principals_t;

/* Loads the table at path. Returns NULL, after logging the line that is
 * wrong, when the file cannot be read or does not parse. */
principals_t *principals_new(const char *path);

/* Frees and nulls *self_p; safe when NULL. */
void principals_destroy(principals_t **self_p);

/* Reads the file again when it changed since it was last read. Returns 1
 * when the table was replaced, 0 when nothing changed, -1 when the new file
 * is wrong (logged; the old table stays). */
int principals_reload(principals_t *self);

/* How many keys the table lists. */
size_t principals_size(principals_t *self);

/* The kind of the principal of key ("" for a key the table does not list)
 * and, in *rate, its own request rate (-1 when it has none of its own). */
const char *principals_kind(principals_t *self, const char *key, long *rate);

/* Checks header's claims for the sender authenticated with key (Z85) and
 * stamps it: header->principal is set to *principal (which the caller
 * provides and keeps alive while header is used), agency, actor_id and roles
 * are those the principal holds. Strings written into header point into the
 * table, which must outlive header (the broker repacks it at once). Returns
 * true when the request may go on; false with why (short, lower-case) and
 * detail (a sentence) written when a claim is refused. */
bool principals_stamp(principals_t *self, const char *key, Chuang__RequestHeader *header,
                      Chuang__Principal *principal, char *why, size_t why_size, char *detail,
                      size_t detail_size);

/* Stamps header for a plain broker, which knows no keys: the claims are
 * kept as they are and the principal says "plain". */
void principals_stamp_plain(Chuang__RequestHeader *header, Chuang__Principal *principal);

#endif
