/*
 * handlers_licence.c - the registry's licence handlers: IssueLicence signs
 * an electronic business licence for a registered entity with the agency's
 * key, VerifyLicence checks a licence's signature and tells the entity's
 * status today. handlers_init loads the key at start-up.
 *
 * Signing and verifying are licence.h's; these handlers fill its fields
 * from the register, and answer FAILED_PRECONDITION while no key
 * (registry.licence_key) is configured.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "identifiers.h"
#include "licence.h"
#include "logger.h"
#include "store.h"

#include <czmq.h>
#include <time.h>

/* The agency's licence signing key, loaded at start-up (read-only after). */
static agency_key_t *s_licence_key;

int handlers_init(config_t *config)
{
    const char *path = config_str(config, "registry.licence_key", NULL);
    if (!path) {
        log_warn("registry.licence_key is not set; licences cannot be issued", NULL);
        return 0;
    }
    char reason[160];
    s_licence_key = agency_key_load(path, reason, sizeof reason);
    if (!s_licence_key) {
        log_error("cannot load the licence signing key", "path=%s reason=\"%s\"", path, reason);
        return -1;
    }
    log_info("licence signing key loaded", "key_id=%s", agency_key_id(s_licence_key));
    return 0;
}

void handlers_fini(void)
{
    agency_key_destroy(&s_licence_key);
}

Chuang__Status handle_issue_licence(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Registry__GetEntityRequest *request =
        (const Chuang__Registry__GetEntityRequest *)input;
    Chuang__Registry__Licence *licence = (Chuang__Registry__Licence *)output;
    if (!handlers_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (!s_licence_key)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no licence signing key",
                                 "This registry has no signing key configured.",
                                 "An operator must set registry.licence_key.");
    store_entity_ref_t ref;
    Chuang__Status allowed = handlers_entity_ref(call, request->credit_code, false, true, &ref);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    Chuang__Registry__Entity entity = CHUANG__REGISTRY__ENTITY__INIT;
    Chuang__Status status = handlers_entity_load(call, request->credit_code, NULL, &entity);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(entity.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is deregistered", NULL, NULL);

    const ProtobufCEnumValue *type = protobuf_c_enum_descriptor_get_value(
        &chuang__registry__entity_type__descriptor, (int)entity.entity_type);
    char capital[24], issued_at[32];
    snprintf(capital, sizeof capital, "%" PRId64, entity.registered_capital_fen);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(issued_at, sizeof issued_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *domicile = service_call_alloc(call, strlen(entity.domicile->detail) + 16);
    sprintf(domicile, "%s %s", entity.domicile->division_code, entity.domicile->detail);

    licence->credit_code = entity.credit_code;
    licence->name = entity.name;
    licence->entity_type = service_call_strdup(call, type ? type->name : "");
    licence->legal_representative = entity.legal_representative->name;
    licence->registered_capital_fen = service_call_strdup(call, capital);
    licence->business_scope = entity.business_scope;
    licence->domicile = domicile;
    licence->registered_on = entity.registered_on;
    licence->issuing_agency = entity.registration_agency;
    licence->issued_at = service_call_strdup(call, issued_at);
    licence->key_id = (char *)agency_key_id(s_licence_key);
    licence->signature = service_call_alloc(call, LICENCE_SIGNATURE_HEX_SIZE);
    licence_fields_t fields = licence_fields_of(licence);
    if (licence_sign(s_licence_key, &fields, licence->signature) != 0)
        return service_call_fail(call, CHUANG__STATUS__INTERNAL, "cannot sign the licence",
                                 "A licence field is not valid text.", NULL);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_verify_licence(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Registry__Licence *licence = (const Chuang__Registry__Licence *)input;
    Chuang__Registry__LicenceVerification *verification =
        (Chuang__Registry__LicenceVerification *)output;
    if (!s_licence_key)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no licence signing key", NULL,
                                 "An operator must set registry.licence_key.");
    char reason[160];
    licence_fields_t fields = licence_fields_of(licence);
    verification->valid =
        licence_verify(&fields, licence->signature, agency_key_public_hex(s_licence_key), reason,
                       sizeof reason) == 0;
    verification->reason = verification->valid ? "" : service_call_strdup(call, reason);
    verification->entity_status = "unknown";
    store_entity_ref_t ref;
    if (identifiers_uscc_check(licence->credit_code, NULL, 0) == 0) {
        int found = store_entity_ref(service_call_db(call), licence->credit_code, false, &ref);
        if (found < 0)
            return service_call_sql_fail(call, NULL, "read entity");
        if (found)
            verification->entity_status = service_call_strdup(call, ref.status);
    }
    return CHUANG__STATUS__OK;
}
