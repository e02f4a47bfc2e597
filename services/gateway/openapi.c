/*
 * openapi.c - the OpenAPI 3.1 document of the gateway, made from its
 * route table and the catalog's descriptors; see openapi.h.
 *
 * Each message is one schema under components/schemas, keyed by its full
 * name (chuang.registry.Entity), its properties by their JSON names with
 * the types pbjson reads and writes: 64-bit integers as decimal strings,
 * bytes as base64, enums by name, repeated fields as arrays, nested
 * messages by reference. Schemas are added as the operations reach them,
 * so the document holds every message a method takes or gives and no
 * other.
 */
#include "openapi.h"

#include "catalog.h"
#include "pbjson.h"
#include "routes.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define REF_PREFIX "#/components/schemas/"

static json_t *s_ref(const char *name)
{
    char ref[256];
    snprintf(ref, sizeof ref, REF_PREFIX "%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

static void s_add_schema(json_t *schemas, const ProtobufCMessageDescriptor *message);

/* The schema of one value of field, adding the messages it names. */
static json_t *s_value(json_t *schemas, const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_pack("{s:s, s:i}", "type", "integer", "minimum", 0);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "int64", "pattern",
                         "^-?[0-9]+$");
    case PROTOBUF_C_TYPE_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_pack("{s:s}", "type", "number");
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:s, s:s}", "type", "string", "contentEncoding", "base64");
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = field->descriptor;
        json_t *names = json_array();
        for (unsigned i = 0; i < e->n_values; i++)
            json_array_append_new(names, json_string(e->values[i].name));
        return json_pack("{s:s, s:o}", "type", "string", "enum", names);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *m = field->descriptor;
        s_add_schema(schemas, m);
        return s_ref(m->name);
    }
    default:
        return json_pack("{s:s}", "type", "string");
    }
}

/* Adds message's schema (and those it names) to schemas, once. */
static void s_add_schema(json_t *schemas, const ProtobufCMessageDescriptor *message)
{
    if (json_object_get(schemas, message->name))
        return;
    json_t *properties = json_object();
    json_t *schema = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", properties,
                               "additionalProperties", 0);
    json_object_set_new(schemas, message->name,
                        schema); /* before its fields: a message may nest itself */
    for (unsigned i = 0; i < message->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &message->fields[i];
        json_t *value = s_value(schemas, field);
        if (field->label == PROTOBUF_C_LABEL_REPEATED)
            value = json_pack("{s:s, s:o}", "type", "array", "items", value);
        char name[128];
        if (strlen(field->name) >= sizeof name)
            continue;
        pbjson_json_name(field->name, name);
        json_object_set_new(properties, name, value);
    }
}

/* The responses of an operation that gives output. */
static json_t *s_responses(json_t *schemas, const ProtobufCMethodDescriptor *method)
{
    s_add_schema(schemas, method->output);
    return json_pack("{s:{s:s, s:{s:{s:o}}}, s:{s:s, s:{s:{s:o}}}}", "200", "description",
                     "the method's output", "content", "application/json", "schema",
                     s_ref(method->output->name), "default", "description",
                     "a problem (RFC 9457): the status, a title in the caller's language, the "
                     "service's words and the fields to mend",
                     "content", "application/problem+json", "schema", s_ref("Problem"));
}

/* A parameter of an operation: in path or query, field of the input. */
static json_t *s_parameter(json_t *schemas, const ProtobufCFieldDescriptor *field, const char *in,
                           const char *name)
{
    json_t *schema = s_value(schemas, field);
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        schema = json_pack("{s:s, s:o}", "type", "array", "items", schema);
    return json_pack("{s:s, s:s, s:b, s:o}", "name", name, "in", in, "required",
                     strcmp(in, "path") == 0, "schema", schema);
}

/* The operation of route (or of the generic route, for service's method). */
static json_t *s_operation(json_t *schemas, const route_t *route,
                           const ProtobufCServiceDescriptor *service,
                           const ProtobufCMethodDescriptor *method)
{
    char id[160], summary[200];
    snprintf(id, sizeof id, "%s.%s%s", routes_service_name(service), method->name,
             route && strcmp(route->pattern, "/v1/{service}/{method}") != 0 ? ".resource" : "");
    snprintf(summary, sizeof summary, "%s %s", service->name, method->name);
    json_t *operation =
        json_pack("{s:s, s:s, s:[s], s:o}", "operationId", id, "summary", summary, "tags",
                  routes_service_name(service), "responses", s_responses(schemas, method));
    json_t *parameters = json_array();
    bool get = route && strcmp(route->verb, "GET") == 0;
    if (route) {
        /* The pattern's {names}, each a field of the input. */
        for (const char *at = strchr(route->pattern, '{'); at; at = strchr(at + 1, '{')) {
            char name[64];
            size_t len = strcspn(at + 1, "}");
            if (len >= sizeof name)
                continue;
            snprintf(name, sizeof name, "%.*s", (int)len, at + 1);
            const ProtobufCFieldDescriptor *field = pbjson_field(method->input, name);
            if (field)
                json_array_append_new(parameters, s_parameter(schemas, field, "path", name));
        }
    }
    if (get) {
        /* Every scalar field the path does not give is a query argument. */
        for (unsigned i = 0; i < method->input->n_fields; i++) {
            const ProtobufCFieldDescriptor *field = &method->input->fields[i];
            char braced[80];
            snprintf(braced, sizeof braced, "{%s}", field->name);
            if (field->type == PROTOBUF_C_TYPE_MESSAGE || field->type == PROTOBUF_C_TYPE_BYTES ||
                strstr(route->pattern, braced))
                continue;
            char name[128];
            if (strlen(field->name) >= sizeof name)
                continue;
            pbjson_json_name(field->name, name);
            json_array_append_new(parameters, s_parameter(schemas, field, "query", name));
        }
    } else {
        s_add_schema(schemas, method->input);
        json_object_set_new(operation, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", 0, "content",
                                      "application/json", "schema", s_ref(method->input->name)));
    }
    if (json_array_size(parameters) > 0)
        json_object_set_new(operation, "parameters", parameters);
    else
        json_decref(parameters);
    return operation;
}

/* Adds operation under path and verb (lower-case) of paths. */
static void s_add_path(json_t *paths, const char *path, const char *verb, json_t *operation)
{
    json_t *item = json_object_get(paths, path);
    if (!item) {
        item = json_object();
        json_object_set_new(paths, path, item);
    }
    char lower[8];
    size_t n = 0;
    for (; verb[n] && n + 1 < sizeof lower; n++)
        lower[n] = (char)tolower((unsigned char)verb[n]);
    lower[n] = '\0';
    json_object_set_new(item, lower, operation);
}

json_t *openapi_document(void)
{
    json_t *schemas = json_object();
    json_t *paths = json_object();
    json_object_set_new(
        schemas, "Problem",
        json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:{s:s, "
                  "s:{s:{s:s}, s:{s:s}}}}}, s:[s, s, s]}",
                  "type", "object", "properties", "type", "type", "string", "title", "type",
                  "string", "status", "type", "integer", "detail", "type", "string", "hint", "type",
                  "string", "errors", "type", "array", "items", "type", "object", "properties",
                  "field", "type", "string", "detail", "type", "string", "required", "type",
                  "title", "status"));
    for (const route_t *route = routes; route->verb; route++) {
        if (!route->service)
            continue; /* the generic route: each method below */
        const ProtobufCServiceDescriptor *service = catalog_find_service(route->service);
        const ProtobufCMethodDescriptor *method =
            service ? protobuf_c_service_descriptor_get_method_by_name(service, route->method)
                    : NULL;
        if (method)
            s_add_path(paths, route->pattern, route->verb,
                       s_operation(schemas, route, service, method));
    }
    for (size_t s = 0; catalog_services[s]; s++) {
        const ProtobufCServiceDescriptor *service = catalog_services[s];
        for (unsigned m = 0; m < service->n_methods; m++) {
            char path[160];
            snprintf(path, sizeof path, "/v1/%s/%s", routes_service_name(service),
                     service->methods[m].name);
            s_add_path(paths, path, "POST",
                       s_operation(schemas, NULL, service, &service->methods[m]));
        }
    }
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.1.0", "info", "title",
                     "chuang HTTP/JSON API", "version", "1", "description",
                     "Every method of chuang's services over HTTP, through the gateway. Made "
                     "from the gateway's route table and the services' protobuf descriptors.",
                     "paths", paths, "components", "schemas", schemas);
}
