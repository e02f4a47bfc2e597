/*
 * fuzz_envelope.c - libFuzzer harness for what a worker decodes from the
 * broker: the chuang.Request envelope, then its payload as the input of
 * every method of every service chuang knows (catalog_services), each
 * input then walked for personal data and redacted the way the feed
 * do. Must never crash, leak or read out of bounds, whatever the bytes.
 */
#include "catalog.h"
#include "chuang.pb-c.h"
#include "redact.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Chuang__Request *request = chuang__request__unpack(NULL, size, data);
    if (!request)
        return 0;
    for (size_t s = 0; catalog_services[s]; s++)
        for (unsigned m = 0; m < catalog_services[s]->n_methods; m++) {
            const ProtobufCMessageDescriptor *input = catalog_services[s]->methods[m].input;
            ProtobufCMessage *message =
                protobuf_c_message_unpack(input, NULL, request->payload.len, request->payload.data);
            if (!message)
                continue;
            redact_message(message);
            protobuf_c_message_free_unpacked(message, NULL);
        }
    chuang__request__free_unpacked(request, NULL);
    return 0;
}
