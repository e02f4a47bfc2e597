/*
 * fuzz_licence.c - libFuzzer harness for an electronic licence someone
 * pastes or uploads to be checked (chuangctl licence-verify, the console to
 * come): the bytes as JSON, converted to a chuang.registry.Licence, its
 * canonical text made and its signature checked against a fixed public
 * key, all offline.
 */
#include "licence.h"
#include "pbjson.h"
#include "registry.pb-c.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define PUBLIC_KEY "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *json = json_loadb((const char *)data, size, 0, NULL);
    if (!json)
        return 0;
    char err[256];
    ProtobufCMessage *message =
        pbjson_to_message(&chuang__registry__licence__descriptor, json, err, sizeof err);
    json_decref(json);
    if (!message)
        return 0;
    const Chuang__Registry__Licence *licence = (const Chuang__Registry__Licence *)message;
    licence_fields_t fields = licence_fields_of(licence);
    size_t length = 0;
    free(licence_canonical(&fields, &length));
    char reason[160];
    (void)licence_verify(&fields, licence->signature, PUBLIC_KEY, reason, sizeof reason);
    pbjson_message_free(message);
    return 0;
}
