/*
 * envelope.h - the chuang.Request envelope as the broker reads and rewrites
 * it: the header alone, without unpacking or copying the payload.
 *
 * A client's request body is a packed chuang.Request: a header (who asks,
 * for which agency, until when) and the method's input as bytes. The broker
 * needs only the header, to route, to answer on its own account and to
 * stamp the principal; the payload, which may be most of the body, is passed
 * on as the client packed it. So the body is read at the protobuf wire
 * level: the header's bytes are found and unpacked, and the stamped body is
 * built anew from the stamped header and the original payload's bytes.
 *
 * What a worker decodes from a stamped body is therefore exactly the header
 * the broker wrote: neither the sender's header fields (the wire format
 * allows several, which a decoder merges) nor any other field of the
 * original is copied into it. A body this reader cannot take as a Request
 * is no chuang envelope; the broker passes such bodies on unchanged, and
 * checks with the full decoder that a worker will not find a header in them
 * either.
 */
#ifndef CHUANG_ENVELOPE_H
#define CHUANG_ENVELOPE_H

#include "chuang.pb-c.h"

#include <czmq.h>

/* Unpacks the header of the packed chuang.Request in data (several header
 * fields taken as protobuf-c takes them). Returns 1 with *header_p set
 * (the caller owns it and frees it with chuang__request_header__free_unpacked),
 * 0 when data is a well-formed message without a header, -1 when data is not
 * a well-formed message or its header does not decode; *header_p is NULL
 * then. */
int envelope_header(const uint8_t *data, size_t size, Chuang__RequestHeader **header_p);

/* Returns a new frame (the caller owns it) holding a Request of header
 * (without the fields it holds that this build does not know) and the
 * payload of the Request in data (its last, as a decoder takes it); NULL
 * when data is not a well-formed message. */
zframe_t *envelope_restamp(const uint8_t *data, size_t size, const Chuang__RequestHeader *header);

#endif
