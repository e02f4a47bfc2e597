/*
 * fuzz_pbjson.c - libFuzzer harness for JSON from outside (chuangctl call,
 * licence files, the gateway to come): the first byte picks a method's
 * input type among every service chuang knows, the rest is parsed as JSON
 * and converted to that message by pbjson_to_message; what converts is
 * turned back into JSON and text. Errors are fine; crashes, leaks and
 * out-of-bounds reads are not.
 */
#include "catalog.h"
#include "pbjson.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The input type of method number index, counting over every service. */
static const ProtobufCMessageDescriptor *s_input(unsigned index)
{
    unsigned count = 0;
    for (size_t s = 0; catalog_services[s]; s++)
        count += catalog_services[s]->n_methods;
    index %= count;
    for (size_t s = 0; catalog_services[s]; s++) {
        if (index < catalog_services[s]->n_methods)
            return catalog_services[s]->methods[index].input;
        index -= catalog_services[s]->n_methods;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *json = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (!json)
        return 0;
    char err[256];
    ProtobufCMessage *message = pbjson_to_message(s_input(data[0]), json, err, sizeof err);
    json_decref(json);
    if (!message)
        return 0;
    json_t *back = pbjson_from_message(message, data[0] & 1);
    char *text = back ? json_dumps(back, JSON_COMPACT) : NULL;
    free(text);
    json_decref(back);
    pbjson_message_free(message);
    return 0;
}
