/*
 * messages.h - finding a protobuf message type by its full name.
 *
 * Events carry their payload's type name ("chuang.registry.Entity"); a tool
 * or service that decodes payloads generically finds the descriptor among
 * the message types reachable from a set of service descriptors: every
 * method's input and output and, recursively, their message fields.
 */
#ifndef CHUANG_MESSAGES_H
#define CHUANG_MESSAGES_H

#include <protobuf-c/protobuf-c.h>

/* The descriptor of the message type named name reachable from services
 * (NULL-terminated), or NULL when there is none. */
const ProtobufCMessageDescriptor *messages_find(const ProtobufCServiceDescriptor *const *services,
                                                const char *name);

#endif
