/*
 * messages.c - message types by name; see messages.h.
 *
 * A depth-first walk from each method's input and output; the catalogs are
 * small, so no index is kept. A depth bound stops recursive types.
 */
#include "messages.h"

#include <string.h>

#define DEPTH_MAX 16

static const ProtobufCMessageDescriptor *s_walk(const ProtobufCMessageDescriptor *descriptor,
                                                const char *name, int depth)
{
    if (!descriptor || depth > DEPTH_MAX)
        return NULL;
    if (strcmp(descriptor->name, name) == 0)
        return descriptor;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const ProtobufCMessageDescriptor *found = s_walk(field->descriptor, name, depth + 1);
        if (found)
            return found;
    }
    return NULL;
}

const ProtobufCMessageDescriptor *messages_find(const ProtobufCServiceDescriptor *const *services,
                                                const char *name)
{
    for (size_t s = 0; services && services[s]; s++)
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            const ProtobufCMethodDescriptor *method = &services[s]->methods[m];
            const ProtobufCMessageDescriptor *found = s_walk(method->output, name, 0);
            if (!found)
                found = s_walk(method->input, name, 0);
            if (found)
                return found;
        }
    return NULL;
}
